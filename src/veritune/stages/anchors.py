"""Anchors: the base model's own answers to general prompts, held while training.

    train:
      anchor: {questions: general.jsonl, limit: 512, weight: 1.0, batch_size: 4}

Preference training on precise questions also moves the model where it was never trained:
on the 135M model every recipe that gained in domain lowered TruthfulQA MC2, because the
model grows more confident in plainly stated answers everywhere (docs/RESULTS.md). The anchor
term is replay of the model's own behaviour: before training, the base model (the policy at
step 0, the same as DPO's reference) samples one answer at temperature 1, without top-p or
top-k, to each of ``limit`` general prompts; during training each micro-batch of pairs comes
with ``batch_size`` of these anchors (cycling through them), and ``weight`` times their mean
per-token negative log-likelihood is added to the loss. Since the answers are drawn from the base itself, that term's expectation
is KL(base || policy) on those prompts plus a constant (the base's entropy): it keeps the
policy's answers to general prompts where the base had them, and leaves the precise questions
to the preference loss.

The prompts come from a file the user names (JSONL, one object a line with a ``question`` or
``prompt`` field; or plain text, one prompt a line), asked as the user turn with no
instruction around them. They should be general and should not be the tasks the guard
scores. The samples are written to ``<run>/anchor_samples.jsonl`` (resumable, like the
sample stage) by the train stage's first step, which the manifest records as ``anchors``: it
depends only on the base model, the prompts, ``limit``, ``max_new_tokens`` and the seed, so
retraining with another weight or learning rate reads the answers back. Only
``train.backend: shared`` computes the term.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Sequence

from veritune.jsonl import read_records
from veritune.prompts import question_messages, read_prompt_file
from veritune.records import Pair, Question, Sample
from veritune.stages.base import Context, Stage
from veritune.stages.sample import sample_questions

PROMPT = "{question}"  # the prompt as the user turn, nothing around it
FIELDS = ("question", "prompt")
BATCH = 64  # prompts a sampling batch; it sets the random streams, so it is part of the result


def read_prompts(path: str | Path, limit: int | None = None, seed: int = 0) -> list[str]:
    """The prompts of an anchor file, distinct, in file order; at most ``limit`` of them, a
    seeded subset. A bad line is an InputError naming the file, the line and the field."""
    prompts = list(dict.fromkeys(read_prompt_file(path, FIELDS)))
    if limit is not None and limit < len(prompts):
        keep = sorted(random.Random(seed).sample(range(len(prompts)), limit))
        prompts = [prompts[i] for i in keep]
    return prompts


def anchor_questions(prompts: Sequence[str]) -> list[Question]:
    """Question records for the sampling stage's code (no answers: nothing is judged); the id
    is the prompt's hash, so a sample on disk always belongs to its prompt."""
    def qid(p: str) -> str:
        return "anchor-" + hashlib.sha1(p.encode("utf-8")).hexdigest()[:12]

    return [Question(id=qid(p), question=p, answers=[], domain="anchor", entity=qid(p),
                     split="train") for p in prompts]


def anchor_targets(questions: Sequence[Question], samples: Sequence[Sample]) -> list[Pair]:
    """Each anchor answer as an SFT-style target (``rejected`` None, ``kind`` anchor); empty
    answers are left out (nothing to hold)."""
    by_id = {q.id: q for q in questions}
    return [Pair(question_id=s.question_id, prompt=question_messages(by_id[s.question_id], PROMPT),
                 chosen=s.text, kind="anchor", chosen_index=s.index)
            for s in samples if s.question_id in by_id and s.text.strip()]


def anchor_set(cfg, seed: int, cap: int | None = None) -> list[Question]:
    """The anchor prompts of ``cfg`` (``AnchorConfig``) as question records: a seeded subset
    of at most ``cfg.limit`` and ``cap`` (a run's ``--limit``) prompts."""
    limits = [x for x in (cfg.limit, cap) if x is not None]
    return anchor_questions(read_prompts(cfg.questions, min(limits, default=None), seed))


def read_anchors(questions: Sequence[Question], out_path: str | Path) -> tuple[list[Pair], dict]:
    """The training targets and counts of anchor answers already in ``out_path``."""
    samples = read_records(out_path, Sample.from_dict)
    targets = anchor_targets(questions, samples)
    return targets, {"anchors": len(targets),
                     "anchor_tokens": sum(s.n_tokens or 0 for s in samples)}


def sample_anchors(engine, cfg, out_path: str | Path, seed: int,
                   cap: int | None = None) -> tuple[list[Pair], dict]:
    """Sample (resumably) the base model's answer to each anchor prompt of ``cfg``
    (``AnchorConfig``) into ``out_path``; return the training targets and the counts.
    ``cap``: at most this many prompts whatever ``cfg.limit`` says (a run's ``--limit``)."""
    questions = anchor_set(cfg, seed, cap)
    sample_questions(engine, questions, cfg.params(seed), out_path, PROMPT, BATCH)
    return read_anchors(questions, out_path)


def anchor_key(cfg) -> dict:
    """What of ``cfg`` (``AnchorConfig``) the anchor answers depend on (besides the base model,
    the seed and a run's ``--limit``): not the weight, batch size or backward."""
    return {k: getattr(cfg, k) for k in ("questions", "limit", "max_new_tokens")}


class AnchorsStage(Stage):
    """The train stage's first step, with its own manifest entry: the base model's answers to
    the anchor prompts. They depend on none of the other train settings, so a retrain with
    another weight, learning rate or method reads them back."""
    name = "anchors"

    def applies(self, ctx: Context) -> bool:
        return ctx.cfg.train.anchor is not None

    def check(self, ctx: Context) -> None:
        read_prompts(ctx.cfg.train.anchor.questions)  # a bad file fails before any model loads

    def inputs(self, ctx: Context) -> list[Path]:
        return [Path(ctx.cfg.train.anchor.questions)]

    def outputs(self, ctx: Context) -> list[Path]:
        return [ctx.paths.anchor_samples]

    def key(self, ctx: Context) -> tuple:
        cfg = ctx.cfg
        return (anchor_key(cfg.train.anchor), cfg.model, cfg.seed, cfg.limit)

    def run(self, ctx: Context) -> dict:
        cfg = ctx.cfg
        return sample_anchors(ctx.engine(cfg.model.name), cfg.train.anchor,
                              ctx.paths.anchor_samples, cfg.seed, cfg.limit)[1]


def run_anchors(ctx: Context) -> tuple[list[Pair], dict]:
    """The anchor targets of ``ctx``'s run (sampled now, or read back), and their counts."""
    ctx.substage(AnchorsStage())
    anchor = ctx.cfg.train.anchor
    return read_anchors(anchor_set(anchor, ctx.cfg.seed, ctx.cfg.limit), ctx.paths.anchor_samples)
