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
from typing import Callable, Sequence

from veritune.errors import InputError
from veritune.jsonl import iter_json_lines
from veritune.records import Pair, Question, Sample

PROMPT = "{question}"  # the prompt as the user turn, nothing around it
FIELDS = ("question", "prompt")
BATCH = 8  # prompts a sampling batch; it sets the random streams (the measured runs used 8)


def read_prompts(path: str | Path, limit: int | None = None, seed: int = 0) -> list[str]:
    """The prompts of an anchor file, distinct, in file order; at most ``limit`` of them, a
    seeded subset. A bad line is an InputError naming the file, the line and the field."""
    path = Path(path)
    prompts: list[str] = []
    if path.suffix == ".jsonl":
        for line, obj in iter_json_lines(path):
            key = next((k for k in FIELDS if k in obj), None)
            if key is None:
                raise InputError("needs a 'question' or 'prompt' field", path=path, line=line,
                                 field="question")
            if not isinstance(obj[key], str) or not obj[key].strip():
                raise InputError("must be a non-empty string", path=path, line=line, field=key)
            prompts.append(obj[key].strip())
    else:
        if not path.is_file():
            raise InputError("file not found" if not path.exists() else "not a file", path=path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"not valid UTF-8 (byte {e.start + 1})", path=path) from None
        prompts = [p.strip() for p in text.splitlines() if p.strip()]
    prompts = list(dict.fromkeys(prompts))
    if not prompts:
        raise InputError("holds no prompts", path=path)
    if limit is not None and limit < len(prompts):
        keep = sorted(random.Random(seed).sample(range(len(prompts)), limit))
        prompts = [prompts[i] for i in keep]
    return prompts


def check_anchor_file(cfg) -> Path:
    """The anchor file of ``cfg`` (``AnchorConfig``), read once: an InputError now, before any
    model loads, rather than after sampling."""
    read_prompts(cfg.questions)
    return Path(cfg.questions)


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
    from veritune.prompts import question_messages

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
    from veritune.jsonl import read_records

    samples = read_records(out_path, Sample.from_dict)
    targets = anchor_targets(questions, samples)
    return targets, {"anchors": len(targets),
                     "anchor_tokens": sum(s.n_tokens or 0 for s in samples)}


def sample_anchors(engine, cfg, out_path: str | Path, seed: int,
                   cap: int | None = None) -> tuple[list[Pair], dict]:
    """Sample (resumably) the base model's answer to each anchor prompt of ``cfg``
    (``AnchorConfig``) into ``out_path``; return the training targets and the counts.
    ``cap``: at most this many prompts whatever ``cfg.limit`` says (a run's ``--limit``)."""
    from veritune.engines import SamplingParams
    from veritune.sample import sample_questions

    questions = anchor_set(cfg, seed, cap)
    params = SamplingParams(n=1, temperature=1.0, top_p=1.0, top_k=0,
                            max_new_tokens=cfg.max_new_tokens, seed=seed)
    sample_questions(engine, questions, params, out_path, PROMPT, BATCH)
    return read_anchors(questions, out_path)


def anchor_key(cfg) -> dict:
    """What of ``cfg`` (``AnchorConfig``) the anchor answers depend on (besides the base model,
    the seed and a run's ``--limit``): not the weight, batch size or backward."""
    return {k: getattr(cfg, k) for k in ("questions", "limit", "max_new_tokens")}


def anchor_stage(store, stage_hash, cfg, engine: Callable[[], object],
                 log: Callable[[str], None]) -> tuple[list[Pair], dict]:
    """The train stage's first step, with its own manifest entry (``anchors``) in ``store``
    (a ``RunStore``; ``stage_hash`` of ``anchor_key``, the base model, seed and limit): the
    base model's answers to the anchor prompts of ``cfg`` (a ``RunConfig``). They depend on
    none of the other train settings, so a retrain with another weight, learning rate or
    method reads them back. ``engine()`` loads the base model."""
    anchor = cfg.train.anchor
    out = store.path("anchor_samples.jsonl")
    if not store.begin("anchors", stage_hash, [Path(anchor.questions)], [out]):
        log("anchors: up to date")
        return read_anchors(anchor_set(anchor, cfg.seed, cfg.limit), out)
    targets, counts = sample_anchors(engine(), anchor, out, cfg.seed, cfg.limit)
    store.finish("anchors", counts)
    return targets, counts
