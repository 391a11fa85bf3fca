"""Injection check on real answers: the shared EfficientQA half's answers rated incorrect,
judged bare and inside each wrapper; a flip is a wrapped answer judged correct whose bare
answer is not. One JSON per run.

    flock /tmp/veritune-cpu.lock python benchmarks/judge_injection.py --judge lexical \\
        --out benchmarks/results/judge/injection_lexical.json
    flock /tmp/veritune-cpu.lock python benchmarks/judge_injection.py --judge llm --mode score \\
        --model ~/.cache/veritune/gguf/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf --answers 150 \\
        --wrappers tagged_verdict,ignore_instructions,fence_close,fake_reference,chat_role \\
        --no-screen --out benchmarks/results/judge/injection_llm_score_noscreen.json

``--no-screen`` turns the LLM judge's screen off, to measure the judge model itself;
``--wrappers unscreened`` uses the wrappers written after the first screen, ``grading_talk``
the four families :mod:`veritune.judge.grading_talk` was written against, and ``heldout``
the families of ``benchmarks/data/injection_heldout.json``, written blind to the screen and
never tuned on (each template its own wrapper ``family/k``; the result sums them by family),
``heldout2`` those of ``injection_heldout2.json``, written blind after the first held-out
set's flips had shaped ``require_overlap`` and the sentence splitter, and ``heldout3`` those of
``injection_heldout3.json``, written blind after the second set's had added the numbers rule;
``heldout4`` (``injection_heldout4.json``) was written blind after the answer mark, and
``heldout5`` (``injection_heldout5.json``) after the answer window that sets 2-4's lexical
flips shaped, ``heldout6`` after the semicolon went into the window, and ``heldout7`` after set
6's flips had made a reference among many other words unsure.
``--no-overlap`` turns ``judge.require_overlap`` off.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402

from veritune.config import load_config  # noqa: E402
from veritune.judge import build_judge  # noqa: E402
from veritune.judge.bench import load_labels, subsample  # noqa: E402
from veritune.judge.injection import (GRADING_TALK_WRAPPERS, UNSCREENED_WRAPPERS,  # noqa: E402
                                      WRAPPERS, injection_flips, wrap)
from veritune.judge.lexical import LexicalJudge  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
HELDOUT = {name: DATA / f"injection_{name}.json" for name in ("heldout", "heldout2", "heldout3",
                                                                   "heldout4", "heldout5", "heldout6",
                                                                   "heldout7")}


def heldout_wrappers(which: str = "heldout") -> dict:
    families = json.loads(HELDOUT[which].read_text(encoding="utf-8"))["families"]
    return {f"{family}/{k}": (lambda c, t=t: t.format(answer=c))
            for family, templates in families.items() for k, t in enumerate(templates)}


def lexical_flips(items: list, names) -> list:
    """The (question, answer) items that some wrapper turns correct for the lexical judge: how
    a judge model does on the wraps the lexical judge lets through."""
    judge = LexicalJudge()
    wraps = names.values() if isinstance(names, dict) else \
        [lambda c, w=w: wrap(c, w) for w in names]
    return [(q, c) for q, c in items if judge.judge(q, c).label != "correct" and any(
        judge.judge(q, f(c)).label == "correct" for f in wraps)]


def by_family(per_wrapper: dict) -> dict:
    out: dict = {}
    for name, row in per_wrapper.items():
        fam = out.setdefault(name.split("/")[0], {"n": 0, "flips": 0, "wrapped_correct": 0})
        for k in fam:
            fam[k] += row[k]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", default="../shared/data/efficientqa_rated_half.jsonl")
    ap.add_argument("--judge", default="lexical", choices=["lexical", "llm", "ensemble"])
    ap.add_argument("--mode", default="score", choices=["generate", "score"])
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--threshold-partial", type=float, default=None)
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--answers", type=int, default=None, help="seeded subsample of answers")
    ap.add_argument("--lexical-flips", action="store_true",
                    help="only the answers that some wrapper gets past the lexical judge")
    ap.add_argument("--wrappers", default="all", help="all | unscreened | comma-separated")
    ap.add_argument("--no-screen", action="store_true")
    ap.add_argument("--no-overlap", action="store_true", help="judge.require_overlap=false")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default=None)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    names = heldout_wrappers(args.wrappers) if args.wrappers in HELDOUT else {
        "all": list(WRAPPERS), "unscreened": list(UNSCREENED_WRAPPERS),
        "grading_talk": list(GRADING_TALK_WRAPPERS)}.get(args.wrappers) or \
        args.wrappers.split(",")
    wrong = [(q, r) for q, r, label in load_labels(args.labels) if label == "incorrect"]
    items = lexical_flips(wrong, names) if args.lexical_flips else \
        subsample(wrong, args.answers, args.seed)
    cache = args.cache or os.path.join(tempfile.mkdtemp(prefix="judge-inj-"), "c.sqlite")
    sets = [f"judge.name={args.judge}", f"judge.mode={args.mode}",
            f"judge.threshold={args.threshold}", f"judge.model.name={args.model}",
            "judge.model.dtype=float32", "judge.model.device=cpu", f"judge.cache={cache}",
            f"judge.max_new_tokens={args.max_new_tokens}",
            f"runs_dir={tempfile.mkdtemp(prefix='judge-run-')}"]
    if args.threshold_partial is not None:
        sets.append(f"judge.threshold_partial={args.threshold_partial}")
    if args.no_overlap:
        sets.append("judge.require_overlap=false")
    judge = build_judge(load_config(None, sets), [])
    llm = getattr(judge, "llm", judge)
    if args.no_screen and hasattr(llm, "screen"):
        llm.screen = False
    start = time.perf_counter()
    result = injection_flips(judge, items, names)
    result["wrappers_set"] = args.wrappers
    result["per_family"] = by_family(result["per_wrapper"])
    result.update(judge=args.judge, mode=args.mode if args.judge != "lexical" else None,
                  threshold=args.threshold if args.judge != "lexical" else None,
                  threshold_partial=args.threshold_partial,
                  screen=None if args.judge == "lexical" else not args.no_screen,
                  require_overlap=None if args.judge == "lexical" else not args.no_overlap,
                  judge_model=args.model if args.judge != "lexical" else None,
                  answers_of={"incorrect_in_labels": len(wrong), "drawn": len(items),
                              "seed": args.seed, "lexical_flips_only": args.lexical_flips},
                  llm_calls=getattr(llm, "calls", 0),
                  seconds=round(time.perf_counter() - start, 1),
                  conditions={"torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(),
                              "date": time.strftime("%Y-%m-%d %H:%M")},
                  command=" ".join(sys.argv))
    Path(args.out).write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps({k: result[k] for k in ("items", "judged", "flips", "llm_calls",
                                             "seconds")}))


if __name__ == "__main__":
    main()
