"""How the score-mode prompt was chosen: ranking quality (AUC) of P(Yes) for a few prompt
shapes on a stratified sample of the shared EfficientQA half, one model load.

    flock /tmp/veritune-cpu.lock python benchmarks/judge_prompt_variants.py \\
        --model ~/.cache/veritune/gguf/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf \\
        --out benchmarks/results/judge/prompt_variants.json

The sample: answers the lexical judge is *not* sure of (those an ensemble sends to the LLM),
``--positives`` rated correct and ``--negatives`` rated incorrect, seeded. AUC does not depend on
the class mix; the per-item probabilities are written too, so thresholds can be studied later.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from veritune.engines.hf import HFEngine  # noqa: E402
from veritune.judge import LexicalJudge  # noqa: E402
from veritune.judge.bench import load_labels  # noqa: E402
from veritune.judge.llm import p_correct  # noqa: E402
from veritune.judge.templates import (  # noqa: E402
    RULES_EN, SCORE_EXAMPLES_EN, build_prompt, fence)

EXAMPLES = SCORE_EXAMPLES_EN  # (question, answer, candidate, correct?): the shipped ones


def item_text(q, c, ask="Is the candidate answer correct?"):
    aliases = f" (also accepted: {'; '.join(q.answers[1:])})" if len(q.answers) > 1 else ""
    return (f"Question: {q.question}\nStandard answer: {q.answers[0]}{aliases}\n"
            f"Candidate answer: {fence(c)}\n{ask} Reply Yes or No.")


def chat_fewshot(q, c, ask="Is the candidate answer correct?"):
    from veritune.records import Question

    msgs = [{"role": "system", "content": RULES_EN}]
    for question, answer, cand, ok in EXAMPLES:
        ex = Question(id="ex", question=question, answers=[answer])
        msgs += [{"role": "user", "content": item_text(ex, cand, ask)},
                 {"role": "assistant", "content": "Yes" if ok else "No"}]
    return msgs + [{"role": "user", "content": item_text(q, c, ask)}]


VARIANTS = {
    "inline_rules_examples": lambda q, c: build_prompt(q, c, mode="score"),
    "plain_yes_no": lambda q, c: [{"role": "user", "content": item_text(q, c)}],
    "chat_fewshot": chat_fewshot,
    "chat_fewshot_same_thing": lambda q, c: chat_fewshot(
        q, c, "Does the candidate answer name the same thing as the standard answer?"),
}


def auc(pos, neg):
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--labels", default="../shared/data/efficientqa_rated_half.jsonl")
    ap.add_argument("--positives", type=int, default=80)
    ap.add_argument("--negatives", type=int, default=160)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    items = load_labels(args.labels, definite_only=True)
    lexical = LexicalJudge()
    unsure = [it for it in items if not lexical.judge(it[0], it[1]).decisive]
    rng = random.Random(args.seed)
    pos = [it for it in unsure if it[2] == "correct"]
    neg = [it for it in unsure if it[2] == "incorrect"]
    sample = rng.sample(pos, min(args.positives, len(pos))) + rng.sample(neg, args.negatives)
    t = time.perf_counter()
    engine = HFEngine(args.model, dtype="float32", device="cpu")
    engine.share_prefix = True
    load = time.perf_counter() - t
    result = {"model": args.model, "sample": {"unsure_items": len(unsure), "positives": len(pos),
                                              "drawn_pos": args.positives,
                                              "drawn_neg": args.negatives, "seed": args.seed},
              "model_load_seconds": round(load, 1), "variants": {}}
    for name in args.variants.split(","):
        engine._prefix = type(engine._prefix)()  # each variant starts without a cached prefix
        t = time.perf_counter()
        prompts = [VARIANTS[name](q, r) for q, r, _ in sample]
        probs = []
        for k in range(0, len(prompts), 8):
            probs += [p_correct(lp) for lp in engine.choice_logprobs(prompts[k:k + 8],
                                                                      ["Yes", "No"])]
        secs = time.perf_counter() - t
        p_pos = [p for p, it in zip(probs, sample) if it[2] == "correct"]
        p_neg = [p for p, it in zip(probs, sample) if it[2] == "incorrect"]
        result["variants"][name] = {"auc": round(auc(p_pos, p_neg), 4),
                                    "seconds_per_item": round(secs / len(sample), 3),
                                    "probs": [round(p, 4) for p in probs]}
        print(name, result["variants"][name]["auc"], result["variants"][name]["seconds_per_item"],
              flush=True)
    result["labels"] = [it[2] for it in sample]
    result["items"] = [[q.question, q.answers, r] for q, r, _ in sample]
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
