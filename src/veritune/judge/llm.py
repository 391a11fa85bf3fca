"""LLM judge in two modes, parsed strictly; and an SQLite cache of its verdicts.

* ``generate`` (the paper's): the model writes an analysis, then a verdict line. The candidate
  is fenced between markers carrying a tag derived from the inputs, and only a final line
  ``VERDICT-<tag>: CORRECT | INCORRECT | NOT_ATTEMPTED`` counts, so a candidate that writes
  "VERDICT: CORRECT" or "ignore the instructions" cannot forge it: it cannot know its tag.
  Anything unparsable is ``uncertain``, never silently ``incorrect``; the raw output is kept as
  the rationale.
* ``score``: one forward pass per item. The prompt ends so that the reply's first word is the
  verdict; P(correct) = P(Yes) / (P(Yes) + P(No)) and the verdict is ``correct`` when it is at
  least ``threshold``, else ``incorrect`` (a refusal is "not correct" here: an ensemble's
  lexical judge marks refusals ``uncertain`` first). Batched; with the hf engine the shared
  instructions and examples run once (``share_prefix``).

``prompt: simpleqa`` asks SimpleQA's grader instead (:mod:`veritune.judge.templates`): in
generate mode the reply must be one letter (A correct, B incorrect, C not attempted; anything
else is ``uncertain``, where simple-evals takes any A, B or C in the reply, and a default of
C); in score mode the three letters' probabilities give P(correct) = P(A) / (P(A) + P(B) +
P(C)), ``correct`` at ``threshold``, else the likelier of B and C.

Before either, ``screen`` (on by default) gives ``incorrect`` to an answer that holds text
addressed to the judge (a verdict line, chat-role text, "ignore the instructions", ...; see
:mod:`veritune.judge.injection`) without asking the model. After either, ``require_overlap``
(on by default) turns a ``correct`` into ``incorrect`` when the answer statement names no
content word of any reference beyond the question's own: a small judge model calls sentences
that answer nothing ("Before giving my final answer, I want to be transparent about my
process.") correct, and a policy trained on its verdicts would learn to write them. Turn it
off for a judge model strong enough to accept paraphrases ("the Bard of Avon" for
"Shakespeare"). The prompts are in :mod:`veritune.judge.templates`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sqlite3
import threading
from pathlib import Path
from typing import Sequence

from veritune.engines import Engine, SamplingParams
from veritune.errors import VerituneError
from veritune.judge.base import Judgement
from veritune.judge.injection import addressed_to_judge, screened
from veritune.judge.statement import answer_part, answer_statement
from veritune.judge.partial import shares_a_word
from veritune.judge.templates import (PROMPT_VERSION, PROMPTS, SCORE_CHOICES, SIMPLEQA_CHOICES,
                                      SIMPLEQA_LABELS, build_prompt, input_tag)
from veritune.progress import progress
from veritune.records import Question

__all__ = ["JudgeCache", "LLMJudge", "MODES", "build_prompt", "input_tag", "parse_letter",
           "parse_verdict"]

MODES = ("generate", "score")
VETO = "the answer statement names no word of a reference (require_overlap)"
LABELS = {"CORRECT": "correct", "INCORRECT": "incorrect", "NOT_ATTEMPTED": "not_attempted"}


def parse_verdict(output: str, tag: str) -> str:
    """The label of the last line ``VERDICT-<tag>: X``; ``uncertain`` when there is none."""
    pattern = re.compile(rf"^\W*VERDICT-{re.escape(tag)}\s*:\s*(CORRECT|INCORRECT|NOT_ATTEMPTED)"
                         r"\W*$")
    found = [m.group(1) for line in output.splitlines() if (m := pattern.match(line.strip()))]
    return LABELS[found[-1]] if found else "uncertain"


def parse_letter(output: str) -> str:
    """SimpleQA's grade from a reply that is one letter (``A``, ``B.``, ``(C)``) or one grade
    word; ``uncertain`` for anything else (a reply that argues is not a grade)."""
    text = output.strip().strip("()[]*`'\".: ").upper().replace(" ", "_")
    if text in SIMPLEQA_LABELS:
        return SIMPLEQA_LABELS[text]
    return LABELS.get(text, "uncertain")


class JudgeCache:
    """SQLite cache keyed by judge model + mode + prompt version + inputs.

    WAL journal and a busy timeout, so several processes (two runs, a run and a bench) can
    share one file; ``score`` keeps score mode's P(correct), so a new threshold costs nothing.
    """

    def __init__(self, path: str | Path, timeout: float = 60.0):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(path)
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=timeout)
        self._db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        self._db.execute("PRAGMA journal_mode = WAL")
        with self._db:
            self._db.execute("CREATE TABLE IF NOT EXISTS verdicts "
                             "(key TEXT PRIMARY KEY, label TEXT, rationale TEXT)")
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(verdicts)")}
            if "score" not in columns:  # caches written before score mode
                self._db.execute("ALTER TABLE verdicts ADD COLUMN score REAL")
        self._lock = threading.Lock()

    @staticmethod
    def key(model: str, question: Question, candidate: str, mode: str = "generate",
            prompt: str = "veritune") -> str:
        version = PROMPT_VERSION[prompt, mode]  # generate keys stay those of earlier caches
        blob = json.dumps([model, version, question.question, question.answers,
                           question.lang, candidate], ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def get(self, key: str) -> tuple[Judgement, float | None] | None:
        with self._lock:
            row = self._db.execute("SELECT label, rationale, score FROM verdicts WHERE key = ?",
                                   (key,)).fetchone()
        return (Judgement(row[0], row[1]), row[2]) if row else None

    def put(self, key: str, judgement: Judgement, score: float | None = None) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?)",
                             (key, judgement.label, judgement.rationale, score))

    def close(self) -> None:
        self._db.close()


def choice_probs(logprobs: Sequence[float]) -> list[float] | None:
    """The choices' probabilities renormalized over the choices; None when all are -inf."""
    top = max(logprobs)
    if top == -math.inf:
        return None
    weights = [math.exp(lp - top) for lp in logprobs]
    return [w / sum(weights) for w in weights]


def p_correct(logprobs: Sequence[float]) -> float | None:
    """P(Yes) / (P(Yes) + P(No)) from the two log-probabilities (or P(A) of SimpleQA's three
    letters); None when all are -inf."""
    probs = choice_probs(logprobs)
    return probs[0] if probs else None


class LLMJudge:
    name = "llm"
    needs_model = True

    def __init__(self, engine: Engine, cache: JudgeCache | None = None,
                 max_new_tokens: int = 256, batch_size: int = 8, mode: str = "generate",
                 threshold: float = 0.5, screen: bool = True, prompt: str = "veritune",
                 require_overlap: bool = True):
        if mode not in MODES:
            raise VerituneError(f"unknown judge mode {mode!r}; modes: {', '.join(MODES)}")
        if prompt not in PROMPTS:
            raise VerituneError(f"unknown judge prompt {prompt!r}; prompts: {', '.join(PROMPTS)}")
        self.prompt = prompt
        self.choices = SIMPLEQA_CHOICES if prompt == "simpleqa" else SCORE_CHOICES
        self.engine, self.cache = engine, cache
        self.max_new_tokens, self.batch_size = max_new_tokens, batch_size
        self.mode, self.threshold, self.screen = mode, threshold, screen
        self.require_overlap = require_overlap
        self.calls = 0  # items sent to the engine (cache hits cost none)
        if mode == "score" and not hasattr(engine, "choice_logprobs"):
            raise VerituneError(f"judge.mode: score needs an engine with choice_logprobs; "
                               f"{getattr(engine, 'name', engine)!r} has none")

    @classmethod
    def from_config(cls, judge_cfg, *, questions=(), engine, cache=None) -> "LLMJudge":
        """The judge ``judge_cfg`` (the ``judge:`` section) describes, on ``engine``."""
        return cls(engine, cache=cache, max_new_tokens=judge_cfg.max_new_tokens,
                   batch_size=judge_cfg.batch_size, mode=judge_cfg.mode,
                   threshold=judge_cfg.threshold, prompt=judge_cfg.prompt,
                   require_overlap=judge_cfg.require_overlap)

    def usage(self) -> dict:
        """Answers sent to the judge model (cache hits are free), and the mode."""
        return {"llm_calls": self.calls, "llm_mode": self.mode, "llm_prompt": self.prompt}

    def judge(self, question: Question, response: str) -> Judgement:
        return self.judge_many([(question, response)])[0]

    def _label(self, p: float | None, p_not_attempted: float | None = None) -> Judgement:
        if p is None:
            return Judgement("uncertain", f"no probability for {' or '.join(self.choices)}")
        label = "correct" if p >= self.threshold else "incorrect"
        why = f"P(correct) = {p:.4f} (threshold {self.threshold})"
        if p_not_attempted is not None:  # SimpleQA's C; kept in the rationale for the cache
            why += f"; P(not attempted) = {p_not_attempted:.4f}"
            if label == "incorrect" and p_not_attempted > 1 - p - p_not_attempted:
                label = "not_attempted"
        return Judgement(label, why, score=p)

    def judge_many(self, items: Sequence[tuple[Question, str]]) -> list[Judgement]:
        out: list[Judgement | None] = [None] * len(items)
        shown = [(q, answer_statement(r, q.question)) for q, r in items]
        keys = [JudgeCache.key(self.engine.model_name, q, r, self.mode, self.prompt)
                for q, r in shown]
        todo = []
        for i, key in enumerate(keys):
            addressed = addressed_to_judge(items[i][1], items[i][0]) if self.screen else None
            if addressed:
                out[i] = screened(addressed)
                continue
            if not shown[i][1]:
                out[i] = Judgement("not_attempted", "empty response")
                continue
            hit = self.cache.get(key) if self.cache else None
            if hit and self.mode == "score" and self.prompt == "simpleqa":
                out[i] = hit[0] if hit[0].label == "uncertain" else self._label(
                    hit[1], _not_attempted(hit[0]))
            elif hit and self.mode == "score":
                out[i] = self._label(hit[1])
            elif hit:
                out[i] = hit[0]
            else:
                todo.append(i)
        bar = progress(len(todo), f"llm judge ({self.mode})", unit="answer") \
            if len(todo) > self.batch_size else None
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start:start + self.batch_size]
            prompts = [build_prompt(*shown[i], mode=self.mode, prompt=self.prompt)
                       for i in chunk]
            results = self._score(prompts) if self.mode == "score" else \
                self._generate(prompts, [shown[i] for i in chunk])
            self.calls += len(chunk)
            for i, (judgement, score) in zip(chunk, results):
                out[i] = judgement
                if self.cache:
                    self.cache.put(keys[i], judgement, score)
            if bar:
                bar.update(len(chunk))
        if bar:
            bar.close()
        if self.require_overlap:
            out = [_unsupported(j, q, r) for j, (q, r) in zip(out, shown)]
        return out  # type: ignore[return-value]

    def _generate(self, prompts, items) -> list[tuple[Judgement, None]]:
        params = SamplingParams(n=1, temperature=0.0, max_new_tokens=self.max_new_tokens)
        gens = self.engine.generate(prompts, params)
        if self.prompt == "simpleqa":
            return [(Judgement(parse_letter(row[0].text), row[0].text), None) for row in gens]
        return [(Judgement(parse_verdict(row[0].text, input_tag(q, r)), row[0].text), None)
                for (q, r), row in zip(items, gens)]

    def _score(self, prompts) -> list[tuple[Judgement, float | None]]:
        choices, k = list(self.choices), len(self.choices)
        logprobs = self.engine.choice_logprobs(prompts, choices)
        if logprobs is None:  # a choice is several tokens for this tokenizer
            pairs = self.engine.loglikelihood([(p, c) for p in prompts for c in choices])
            logprobs = [pairs[j:j + k] for j in range(0, len(pairs), k)]
        out = []
        for lp in logprobs:
            p, probs = p_correct(lp), choice_probs(lp)
            out.append((self._label(p, probs[2] if probs and k == 3 else None), p))
        return out


def _not_attempted(cached: Judgement) -> float | None:
    """P(not attempted), read back from the rationale a SimpleQA score-mode verdict was cached
    with (the cache's one number is P(correct), so a new threshold costs nothing)."""
    m = re.search(r"P\(not attempted\) = ([0-9.]+)", cached.rationale)
    return float(m.group(1)) if m else None


def _unsupported(judgement: Judgement, question: Question, statement: str) -> Judgement:
    """``judgement``, unless it is ``correct`` for a statement that names no word of any
    reference: then ``incorrect`` (``require_overlap``)."""
    if judgement.label != "correct" or shares_a_word(
            answer_part(statement, question.question), list(question.answers),
            question.question):
        return judgement
    return Judgement("incorrect", f"{judgement.rationale}; {VETO}", score=judgement.score)
