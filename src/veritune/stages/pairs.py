"""The pairs stage: preference pairs from verdicts, (correct, incorrect) answers of a question.

    veritune pairs configs/quickstart.yaml
    veritune pairs --questions questions.jsonl --samples samples.jsonl \
        --verdicts verdicts.jsonl --out DIR [--k 4] [--export-trl FILE]

For each question: chosen candidates are its correct samples, rejected its incorrect ones
(uncertain samples are dropped). Every (chosen, rejected) combination is a candidate pair; at
most K are kept per question, seeded. With ``chosen: concise`` the shortest correct answers
are used first, so DPO does not learn that longer answers are better; with
``drop_truncated`` an answer cut off by max_new_tokens is never chosen. Questions with only
one kind of answer give no DPO pair. With ``drop_hedged_rejected`` an incorrect answer holding a
negation or hedge word (``HEDGE``) is never rejected. SFT targets are the (kept) correct samples, all of
them (at most K) or one per question.

Ablations: ``chosen_source: dataset`` uses the standard answer as the chosen answer and
``rejected_source: dataset`` the dataset's wrong answers as rejected ones, instead of the
model's own samples; ``question_fraction`` keeps a seeded share of the questions.

``min_correct`` keeps only questions the model answers right in at least that many samples
(1, the default, is the paper's: any correct sample); the others give nothing.

``skip_questions`` names questions that give nothing (no pair, no SFT target): a file of
question texts or of prompts as the run asks them. ``benchmarks/said_anchors.py`` writes the
training questions the base model already answers right greedily; skipping them trains only
where the model knows but does not say, which on Qwen2.5-Coder-1.5B and NQ-open lowered
validation accuracy at every step (docs/RESULTS.md): the pairs of right-answered questions
hold those answers.

Abstention (``abstain``, off by default): a question with incorrect answers and no usable
correct one gives no PKUE pair; with ``abstain: fixed`` it gives pairs (``abstain_text``,
incorrect answer) instead, with ``abstain: own`` pairs (one of the model's own refusals, the
samples judged ``not_attempted``, shortest first; incorrect answer). Either way at most K, of
kind ``abstain``, so the model learns to say it does not know where it only guesses wrong
(SimpleQA's not-attempted grade). The SFT targets stay correct answers only.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from pathlib import Path
from typing import Mapping, Sequence

from veritune.config import PairsConfig
from veritune.errors import InputError
from veritune.jsonl import read_records, write_records
from veritune.prompts import fill_prompt, question_messages, read_prompt_file
from veritune.records import Pair, Question, Sample, Verdict
from veritune.stages.base import Context, Stage

# Negation and hedge words: what TruthfulQA's true answers often hold and the tuned model
# learns to avoid when rejected answers hold them (benchmarks/truthfulqa_shift.py).
HEDGE = re.compile(r"\b(no|not|nothing|none|never|unclear|unknown|don't|doesn't|isn't|aren't|"
                   r"can't|cannot|depends|comment|may|might|some)\b", re.I)


def hedges(text: str) -> bool:
    return bool(HEDGE.search(text))


def _distinct(samples: list[Sample], on: bool) -> list[Sample]:
    if not on:
        return samples
    seen, out = set(), []
    for s in samples:
        key = " ".join(s.text.split()).lower()
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def split_by_label(samples: Sequence[Sample], verdicts: Sequence[Verdict],
                   cfg: PairsConfig) -> dict[str, tuple[list[Sample], list[Sample]]]:
    """question id -> (chosen candidates, rejected candidates), chosen ordered by preference."""
    labels = {(v.question_id, v.sample_index): v.label for v in verdicts}
    groups: dict[str, tuple[list[Sample], list[Sample]]] = defaultdict(lambda: ([], []))
    for s in sorted(samples, key=lambda s: (s.question_id, s.index)):
        label = labels.get((s.question_id, s.index))
        good, bad = groups[s.question_id]
        if label == "correct" and s.text.strip() and not (cfg.drop_truncated and s.truncated):
            good.append(s)
        elif label == "incorrect" and s.text.strip() and \
                not (cfg.drop_hedged_rejected and hedges(s.text)):
            bad.append(s)
    out = {}
    for qid, (good, bad) in groups.items():
        if cfg.chosen == "concise":
            good = sorted(good, key=lambda s: (s.n_tokens or len(s.text), s.index))
        out[qid] = (_distinct(good, cfg.distinct), _distinct(bad, cfg.distinct))
    return out


def abstentions(samples: Sequence[Sample], verdicts: Sequence[Verdict],
                cfg: PairsConfig) -> dict[str, list[Sample]]:
    """question id -> the model's own refusals (judged ``not_attempted``), shortest first."""
    labels = {(v.question_id, v.sample_index): v.label for v in verdicts}
    out: dict[str, list[Sample]] = defaultdict(list)
    for s in sorted(samples, key=lambda s: (s.question_id, s.index)):
        if labels.get((s.question_id, s.index)) == "not_attempted" and s.text.strip() and \
                not (cfg.drop_truncated and s.truncated):
            out[s.question_id].append(s)
    return {qid: _distinct(sorted(refusals, key=lambda s: (s.n_tokens or len(s.text), s.index)),
                           cfg.distinct) for qid, refusals in out.items()}


def select_pairs(good: list[Sample], bad: list[Sample], k: int, concise: bool,
                 rng: random.Random) -> list[tuple[Sample, Sample]]:
    """At most k (chosen, rejected) pairs. Concise: pairs whose chosen is shortest first."""
    candidates = [(g, b) for g in good for b in bad]
    rng.shuffle(candidates)
    if concise:  # stable sort keeps the random order within one chosen length
        candidates.sort(key=lambda p: p[0].n_tokens or len(p[0].text))
    return candidates[:k]


def build_pairs(questions: Mapping[str, Question], samples: Sequence[Sample],
                verdicts: Sequence[Verdict], cfg: PairsConfig, prompt: str,
                seed: int = 0) -> tuple[list[Pair], list[Pair]]:
    """(DPO pairs, SFT targets)."""
    pairs, sft = [], []
    unknown = {s.question_id for s in samples} - set(questions)
    if unknown:
        raise InputError(f"samples refer to {len(unknown)} question(s) not in the question file, "
                         f"e.g. {sorted(unknown)[0]!r}", field="question_id")
    groups = split_by_label(samples, verdicts, cfg)
    refusals = abstentions(samples, verdicts, cfg) if cfg.abstain == "own" else {}
    skipped = skipped_questions(questions, cfg.skip_questions, prompt) | \
        rarely_correct(verdicts, cfg.min_correct)
    kept = keep_fraction(sorted(set(groups) - skipped), cfg.question_fraction, seed)
    for qid in kept:
        q = questions[qid]
        good, bad = groups[qid]
        messages = question_messages(q, prompt)
        rng = random.Random(f"{seed}:{qid}")
        self_good = good
        if cfg.chosen_source == "dataset":
            good = [_dataset_sample(qid, -1, q.standard_answer)]
        if cfg.rejected_source == "dataset":
            bad = [_dataset_sample(qid, -2 - i, w) for i, w in enumerate(q.wrong_answers)]
        kind = "self" if (cfg.chosen_source, cfg.rejected_source) == ("self", "self") else \
            "dataset" if cfg.chosen_source == cfg.rejected_source else "mixed"
        if not good and bad and cfg.abstain != "off":
            good = refusals.get(qid, []) if cfg.abstain == "own" else \
                [_dataset_sample(qid, ABSTAIN_INDEX, cfg.abstain_text)]
            kind = "abstain"
        for g, b in select_pairs(good, bad, cfg.max_pairs_per_question,
                                 cfg.chosen == "concise", rng):
            pairs.append(Pair(question_id=qid, prompt=messages, chosen=g.text, rejected=b.text,
                              kind=kind, chosen_index=g.index, rejected_index=b.index))
        n_sft = 1 if cfg.sft_targets == "one" else cfg.max_pairs_per_question
        for g in self_good[:n_sft]:
            sft.append(Pair(question_id=qid, prompt=messages, chosen=g.text, rejected=None,
                            kind="sft", chosen_index=g.index))
    return pairs, sft


def skipped_questions(questions: Mapping[str, Question], path: str | None,
                      prompt: str) -> set[str]:
    """The ids of ``questions`` whose text, or prompt as ``prompt`` renders it, is a line of the
    file at ``path`` (none when unset)."""
    if not path:
        return set()
    listed = {" ".join(p.split()) for p in read_prompt_file(path, ("question", "prompt"))}
    return {qid for qid, q in questions.items()
            if " ".join(q.question.split()) in listed
            or " ".join(fill_prompt(prompt, q.question).split()) in listed}


def rarely_correct(verdicts: Sequence[Verdict], least: int) -> set[str]:
    """The ids of questions with a correct sample but fewer than ``least`` of them: answers
    the model gives that rarely may be guesses, not knowledge (none when ``least`` is 1;
    questions with no correct sample are left to ``abstain``)."""
    if least <= 1:
        return set()
    correct: dict[str, int] = defaultdict(int)
    for v in verdicts:
        correct[v.question_id] += v.label == "correct"
    return {qid for qid, n in correct.items() if 0 < n < least}


ABSTAIN_INDEX = -100  # the fixed abstention's chosen_index: not a model sample


def _dataset_sample(qid: str, index: int, text: str) -> Sample:
    """A dataset answer standing in for a sample (negative index: not a model sample)."""
    return Sample(question_id=qid, index=index, text=text, model="dataset",
                  n_tokens=len(text.split()))


def keep_fraction(ids: Sequence[str], fraction: float, seed: int) -> list[str]:
    """A seeded share of ids; a smaller fraction keeps a subset of a larger one's ids."""
    if fraction >= 1.0:
        return list(ids)
    ranked = sorted(ids, key=lambda i: random.Random(f"{seed}:fraction:{i}").random())
    keep = set(ranked[:max(1, round(fraction * len(ids)))])
    return [i for i in ids if i in keep]


def pair_stats(pairs: Sequence[Pair], sft: Sequence[Pair], n_questions: int) -> dict:
    def mean_words(texts):
        texts = list(texts)
        return round(sum(len(t.split()) for t in texts) / len(texts), 2) if texts else 0.0

    return {"pairs": len(pairs), "sft_targets": len(sft),
            "questions": n_questions,
            "questions_with_pairs": len({p.question_id for p in pairs}),
            **({"abstain_pairs": sum(p.kind == "abstain" for p in pairs)}
               if any(p.kind == "abstain" for p in pairs) else {}),
            "mean_chosen_words": mean_words(p.chosen for p in pairs),
            "mean_rejected_words": mean_words(p.rejected for p in pairs)}


class PairsStage(Stage):
    name = "pairs"

    def check(self, ctx: Context) -> None:
        if ctx.cfg.pairs.skip_questions:  # a bad file fails before any model loads
            read_prompt_file(ctx.cfg.pairs.skip_questions, ("question", "prompt"))

    def inputs(self, ctx: Context) -> list[Path]:
        skip = ctx.cfg.pairs.skip_questions
        return [ctx.paths.questions, ctx.paths.samples, ctx.paths.verdicts] + (
            [Path(skip)] if skip else [])

    def outputs(self, ctx: Context) -> list[Path]:
        return [p for p in (ctx.paths.pairs, ctx.paths.sft, ctx.paths.pairs_trl) if p]

    def key(self, ctx: Context) -> tuple:
        return (ctx.cfg.pairs, ctx.cfg.prompt, ctx.cfg.seed)

    def run(self, ctx: Context) -> dict:
        cfg, paths = ctx.cfg, ctx.paths
        questions = {q.id: q for q in ctx.questions(cfg.sample.splits)}
        samples = read_records(paths.samples, Sample.from_dict)
        verdicts = read_records(paths.verdicts, Verdict.from_dict)
        pairs, sft = build_pairs(questions, samples, verdicts, cfg.pairs, cfg.prompt, cfg.seed)
        write_records(paths.pairs, pairs)
        write_records(paths.sft, sft)
        if paths.pairs_trl:
            write_records(paths.pairs_trl, [p.to_trl() for p in pairs])
        counts = pair_stats(pairs, sft, len(questions))
        ctx.log(f"pairs: {counts}")
        return counts
