"""What the open-ended, model-judged tasks share (``mtbench``, ``winrate``): MT-Bench's data and
judge prompts (lm-sys/FastChat, Apache-2.0, in ``tasks/data/mt_bench/``), the judge model's
engine, answers quoted so they cannot close their own markers, and the judge's bill.

An open-ended answer is long prose, where words like "correct" are ordinary, so the short-answer
screen of ``judge.grading_talk`` is not applied; instead the answer cannot write the markers
around it (``[The End of ...]``, ``<|...|>``) nor the verdict format (``[[...]]``), and only the
judge model's own reply is parsed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from veritune.engines import SamplingParams
from veritune.errors import InputError
from veritune.jsonl import iter_json_lines
from veritune.progress import progress

DATA = Path(__file__).with_name("data") / "mt_bench"
NEED_REFERENCE = ("math", "reasoning", "coding")  # FastChat's NEED_REF_CATS
JUDGE_MAX_NEW_TOKENS = 384


@dataclass(frozen=True)
class Instruction:
    """One open-ended item: its turns (user messages), category, and reference answers per
    turn where the set has them."""
    id: str
    turns: tuple[str, ...]
    category: str = "general"
    reference: tuple[str, ...] = field(default=())


def default_data() -> Path:
    return DATA / "question.jsonl"


@lru_cache(maxsize=1)
def judge_prompts() -> dict[str, dict]:
    return {row["name"]: row for _, row in iter_json_lines(DATA / "judge_prompts.jsonl")}


@lru_cache(maxsize=1)
def _references() -> dict[int, tuple[str, ...]]:
    return {row["question_id"]: tuple(row["turns"])
            for _, row in iter_json_lines(DATA / "reference_answer_gpt-4.jsonl")}


def load_instructions(path: str | Path) -> list[Instruction]:
    """MT-Bench's ``question.jsonl`` format (``question_id``, ``category``, ``turns``), or
    AlpacaEval's (``instruction``, optional ``dataset`` as the category): JSONL, one item a
    line. MT-Bench's own file gets FastChat's GPT-4 references for math, reasoning, coding."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path)
    own = path.resolve() == default_data().resolve()
    out = []
    for lineno, row in iter_json_lines(path):
        if "turns" in row:
            turns = row["turns"]
            if not isinstance(turns, list) or not turns or not all(
                    isinstance(t, str) and t.strip() for t in turns):
                raise InputError("expected a non-empty list of non-empty strings", path=path,
                                 line=lineno, field="turns")
            qid, category = row.get("question_id", lineno), str(row.get("category", "general"))
        elif "instruction" in row:
            turns = [row["instruction"]]
            if not isinstance(turns[0], str) or not turns[0].strip():
                raise InputError("missing or empty", path=path, line=lineno, field="instruction")
            qid, category = row.get("id", lineno), str(row.get("dataset", "general"))
        else:
            raise InputError("expected 'turns' (MT-Bench) or 'instruction' (AlpacaEval)",
                             path=path, line=lineno, field="turns")
        ref = _references().get(qid, ()) if own and category in NEED_REFERENCE else ()
        out.append(Instruction(str(qid), tuple(t.strip() for t in turns), category, ref))
    if not out:
        raise InputError("no items", path=path)
    return out


def quoted(answer: str) -> str:
    """An answer that cannot close the markers around it, open a chat turn, or write the
    judge's verdict format."""
    return (answer.replace("[The End of", "[The end of").replace("[The Start of", "[The start of")
            .replace("<|", "< |").replace("|>", "| >").replace("[[", "[ [").replace("]]", "] ]"))


def judge_engine(judge, task: str):
    """The engine of the judge's model (an ``llm`` or ``ensemble`` judge); a clear error for a
    judge without one, before anything is generated."""
    judge = getattr(judge, "llm", judge)  # the ensemble's LLM half
    engine = getattr(judge, "engine", None)
    if engine is None:
        raise InputError(f"{task} is scored by a judge model: set judge.name (or eval.judge.name)"
                         " to llm or ensemble, with judge.model.name the judge", field="judge")
    return engine


class JudgeBill:
    """The judge model's cost: calls, generated tokens, seconds."""

    def __init__(self):
        self.calls, self.tokens, self.seconds = 0, 0, 0.0

    def generate(self, engine, prompts: Sequence[list[dict]], batch_size: int, seed: int,
                 desc: str) -> list[str]:
        params = SamplingParams(n=1, temperature=0.0, max_new_tokens=JUDGE_MAX_NEW_TOKENS,
                                seed=seed)
        out: list[str] = []
        bar = progress(len(prompts), desc, unit="call")
        start = time.perf_counter()
        for b in range(0, len(prompts), max(1, batch_size)):
            rows = engine.generate(list(prompts[b:b + batch_size]), params)
            out += [row[0].text for row in rows]
            self.tokens += sum(row[0].n_tokens for row in rows)
            bar.update(len(rows))
        bar.close()
        self.calls += len(prompts)
        self.seconds += time.perf_counter() - start
        return out

    def choice_logprobs(self, engine, prompts, choices: Sequence[str], batch_size: int):
        start = time.perf_counter()
        logprobs = engine.choice_logprobs(list(prompts), list(choices), batch_size=batch_size)
        if logprobs is None:  # a choice is several tokens for this tokenizer
            pairs = engine.loglikelihood([(p, c) for p in prompts for c in choices])
            logprobs = [pairs[j:j + len(choices)] for j in range(0, len(pairs), len(choices))]
        self.calls += len(prompts)
        self.seconds += time.perf_counter() - start
        return logprobs

    def metrics(self) -> dict:
        return {"judge_calls": self.calls, "judge_tokens": self.tokens,
                "judge_seconds": round(self.seconds, 1)}


def examples_by_id(examples: Sequence[dict]) -> dict[str, dict]:
    return {str(e["id"]): e for e in examples}
