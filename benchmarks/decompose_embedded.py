"""APEFT's LLM decomposition (``apeft.extraction: llm``) run for real with a given model on
sentences of the model's own long answers; writes JSON with the parse rate and examples.

    python benchmarks/decompose_embedded.py --longform runs/apeft/longform.jsonl \
        [--model embedded] [--sentences 160] [--out benchmarks/results]

The sentences are the first ``--sentences`` of the answers in file order. A reply that is not
all "- fact" lines keeps the sentence whole (the pipeline's rule). A parsed reply can still be
wrong, so two plain checks on the facts: repeated within a reply, and adding a word (4+
letters) the sentence does not have, which a decomposition should not need. Repeated lines
are counted before ``parse_facts`` keeps each fact once.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 4}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--longform", required=True)
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--sentences", type=int, default=160)
    ap.add_argument("--out", default="benchmarks/results")
    args = ap.parse_args()

    from veritune.atomic.facts import decompose_prompt, parse_facts
    from veritune.engines import SamplingParams, make_engine
    from veritune.jsonl import read_records
    from veritune.judge.normalize import split_sentences

    answers = read_records(args.longform, dict, unique=False)
    sentences = [s for a in answers for s in split_sentences(a["text"])][:args.sentences]
    engine = make_engine("hf", args.model)
    params = SamplingParams(n=1, temperature=0.0, max_new_tokens=128)
    start = time.perf_counter()
    replies = []
    for b in range(0, len(sentences), 16):  # decompose()'s batches, keeping the raw replies
        rows = engine.generate([decompose_prompt(s) for s in sentences[b:b + 16]], params)
        replies += [r[0].text for r in rows]
    seconds = time.perf_counter() - start
    parsed = [parse_facts(r) for r in replies]
    ok = [p for p in parsed if p is not None]
    copied = sum(1 for s, p in zip(sentences, parsed) if p and len(p) == 1 and
                 p[0].strip().rstrip(".") == s.strip().rstrip("."))
    facts = [(s, f) for s, p in zip(sentences, parsed) if p for f in p]
    lines = sum(len([x for x in r.splitlines() if x.strip()]) for r, p in zip(replies, parsed)
                if p is not None)
    repeated = lines - len(facts)  # parse_facts keeps a repeated fact once
    adding = sum(1 for s, f in facts if words(f) - words(s))
    result = {"model": args.model, "longform": args.longform, "sentences": len(sentences),
              "parsed": len(ok), "parse_rate": round(len(ok) / max(len(sentences), 1), 3),
              "facts_per_parsed_sentence": round(sum(map(len, ok)) / max(len(ok), 1), 2),
              "parsed_as_the_sentence_itself": copied, "facts": len(facts),
              "fact_lines": lines, "fact_lines_repeating_their_reply": repeated,
              "facts_adding_words_not_in_the_sentence": adding,
              "seconds": round(seconds, 1),
              "examples": [{"sentence": s, "reply": r, "facts": p}
                           for s, r, p in list(zip(sentences, replies, parsed))[:12]]}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "decompose_embedded.json").write_text(json.dumps(result, indent=2,
                                                            ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "examples"}, indent=2))


if __name__ == "__main__":
    main()
