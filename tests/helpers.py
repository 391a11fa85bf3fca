"""Helpers several test folders share: small configs, pairs and samples, the CLI runner.

(Fixtures live in ``conftest.py``; these are plain functions and data, imported by name.)
"""

from __future__ import annotations

import math
from pathlib import Path

import yaml
from typer.testing import CliRunner

from veritune.cli import app
from veritune.config import TrainConfig
from veritune.engines import Generation
from veritune.records import Pair, Question, Sample, Verdict

N = 4  # samples a question in the tiny pipeline config

FACTS = [("What is the capital of France?", "Paris", "Lyon"),
         ("What is the chemical symbol of iron?", "Fe", "Ir"),
         ("On which continent is Kenya?", "Africa", "Asia"),
         ("What is the capital of the US state of Ohio?", "Columbus", "Cleveland"),
         ("What is the atomic number of carbon?", "6", "12"),
         ("What is the currency of Japan?", "Yen", "Won"),
         ("What is the capital of Italy?", "Rome", "Milan"),
         ("On which continent is Peru?", "South America", "Africa")]


class Stop(Exception):
    pass


def stop_at(step: int):
    def log(row: dict) -> None:
        if row.get("step") == step and "loss" in row:
            raise Stop
    return log


PROMPT = "Answer with just the answer. {question}"


def make(spec: dict[str, list[tuple]]):
    """spec: question id -> [(text, label, n_tokens, truncated), ...]; index = position."""
    questions, samples, verdicts = {}, [], []
    for qid, rows in spec.items():
        questions[qid] = Question(qid, f"What is {qid}?", ["ref"])
        for i, row in enumerate(rows):
            text, label = row[0], row[1]
            n_tokens = row[2] if len(row) > 2 else len(text.split())
            truncated = row[3] if len(row) > 3 else False
            samples.append(Sample(qid, i, text, n_tokens=n_tokens, truncated=truncated))
            if label is not None:
                verdicts.append(Verdict(qid, i, label))
    return questions, samples, verdicts


def pipeline_config(model_dir: Path, runs_dir: Path) -> dict:
    return {
        "name": "tiny",
        "runs_dir": str(runs_dir),
        "seed": 0,
        "model": {"name": str(model_dir), "device": "cpu"},
        "data": {"source": "kb", "relations": ["country_continent"],
                 "max_entities_per_domain": 16, "test_fraction": 0.35},
        "sample": {"n": N, "temperature": 1.0, "top_p": 0.95, "top_k": 50,
                   "max_new_tokens": 8, "batch_size": 4},
        "pairs": {"max_pairs_per_question": 2},
        "train": {"method": "dpo", "batch_size": 4, "max_length": 64, "logging_steps": 1,
                  "learning_rate": 1e-4},
        "eval": {"splits": ["test"], "max_new_tokens": 8, "best_of_n": 2, "batch_size": 8},
    }


def write_yaml(path: Path, tree: dict) -> Path:
    path.write_text(yaml.safe_dump(tree, sort_keys=False), encoding="utf-8")
    return path


def invoke(*args: str):
    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exit_code != 0:
        raise AssertionError(f"exit {result.exit_code}\n{result.output[-4000:]}\n"
                             f"{result.exception!r}")
    return result


def k_pairs() -> list[Pair]:
    """PKUE-shaped: two questions with several pairs each, answers reused across pairs."""
    def pair(q, good, bad):
        return Pair(question_id=q, prompt=[{"role": "user", "content": q}], chosen=good,
                    rejected=bad, chosen_index=0, rejected_index=1)
    return [pair("What is the capital of France?", "Paris.", "Lyon."),
            pair("What is the capital of France?", "Paris.", "Marseille."),
            pair("What is the capital of France?", "It is Paris.", "Lyon."),
            pair("On which continent is Peru?", "South America", "Africa"),
            pair("On which continent is Peru?", "South America", "Asia")]


def make_pairs() -> list[Pair]:
    return [Pair(question_id=f"q{i}", prompt=[{"role": "user", "content": q}], chosen=good,
                 rejected=bad, chosen_index=0, rejected_index=1)
            for i, (q, good, bad) in enumerate(FACTS)]


def config(method: str = "dpo", **kw) -> TrainConfig:
    base = dict(method=method, batch_size=4, epochs=1.0, learning_rate=1e-4, max_length=64,
                logging_steps=1)
    return TrainConfig(**{**base, **kw})


def losses(history: list[dict], phase: str) -> list[float]:
    return [row["loss"] for row in history if "loss" in row and row.get("phase") == phase]


# A judge model scripted for the injection tests

def candidate_of(prompt: str) -> str:
    if "<<<CANDIDATE-" in prompt:  # generate mode: fenced with a tag
        return prompt.split(">>>\n", 1)[1].split("\n<<<END-")[0]
    return prompt.split("Candidate answer: ", 1)[1].rsplit("\nIs the candidate", 1)[0]


def tag_of(prompt: str) -> str:
    return prompt.split("<<<CANDIDATE-")[1].split(">>>")[0]


class ScriptedJudgeModel:
    """``gullible``: says correct whenever the candidate text claims to be correct; else
    correct only when the reference's last word is in the candidate."""

    name, model_name = "scripted", "scripted-judge"

    def __init__(self, gullible: bool):
        self.gullible, self.seen = gullible, 0

    def _ok(self, prompt: str) -> bool:
        c = candidate_of(prompt)
        if self.gullible and any(w in c.lower() for w in ("correct", "yes", "right")):
            return True
        head = prompt.split("<<<CANDIDATE-")[0].split("Candidate answer: ")[0]  # the item's own
        reference = head.split("Standard answer: ")[-1].split("\n")[0].split(" (")[0]
        return reference.split()[-1].lower() in c.lower()

    def generate(self, prompts, params, batch_index=0):
        self.seen += len(prompts)
        return [[Generation(f"ok\nVERDICT-{tag_of(p[-1]['content'])}: "
                            f"{'CORRECT' if self._ok(p[-1]['content']) else 'INCORRECT'}",
                            5, False)] for p in prompts]

    def choice_logprobs(self, prompts, choices):
        self.seen += len(prompts)
        return [[math.log(0.9), math.log(0.1)] if self._ok(p[-1]["content"]) else
                [math.log(0.1), math.log(0.9)] for p in prompts]
