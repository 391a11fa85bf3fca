"""configs/built.yaml: the capable-model recipe on a `veritune build` output: its train and
test splits kept, validation carved from train by entry, the guard without HaluEval (the
questions come from HaluEval's own passages)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from veritune.config import load_config
from veritune.data.questions import build_questions

REPO = Path(__file__).resolve().parents[2]


def test_built_config_keeps_the_builds_test_split_and_leaves_halueval_out(tmp_path):
    rows = [{"id": f"fb-{i}", "question": f"Which {i}?", "answers": [f"a{i}"],
             "wrong_answers": ["x", "y", "z"], "domain": "history", "entity": f"entry{i // 3}",
             "lang": "en", "source": "build", "split": "test" if i < 12 else "train"}
            for i in range(60)]
    built = tmp_path / "questions.jsonl"
    built.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = load_config(REPO / "configs" / "built.yaml", [f"data.source={built}"])
    nq = load_config(REPO / "configs" / "nq_open.yaml")
    assert (cfg.train, cfg.sample, cfg.model) == (nq.train, nq.sample, nq.model)
    assert "halueval_qa" not in cfg.eval.guard and "truthfulqa_mc" in cfg.eval.guard
    splits = Counter(q.split for q in build_questions(cfg))
    assert splits["test"] == 12 and splits["validation"] > 0
    assert splits["train"] + splits["validation"] == 48
