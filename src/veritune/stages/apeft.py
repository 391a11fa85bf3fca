"""APEFT's own stages, composed with PKUE's into ``veritune apeft CONFIG``.

    data -> longform -> facts -> probe -> pairs -> train -> eval -> shift -> report

``longform`` samples ``apeft.n`` long answers for each training entity; ``facts`` splits and
grounds them (``facts.jsonl``) and scores each answer (``longform_scores.jsonl``); ``probe``
samples the kb question of every decided fact (``probe_samples.jsonl``,
``probe_verdicts.jsonl``); ``pairs`` writes the general pairs, plus the atomic pairs of the
potentially known facts unless ``apeft.use_atomic`` is off; ``train`` and ``eval`` are PKUE's
(set ``eval.suite`` to include ``factscore``); ``shift`` compares base and tuned token
distributions on held-out long-form prompts (in-domain) and on TruthfulQA questions
(out-of-domain). Every stage resumes and is skipped when up to date. The algorithms are
``veritune.atomic``'s.
"""

from __future__ import annotations

import random
from pathlib import Path

from veritune.analysis.run import run_shift
from veritune.atomic.facts import decompose, extract_facts
from veritune.atomic.factscore import answer_score, general_pairs
from veritune.atomic.longform import longform_prompt
from veritune.atomic.pairs import atomic_pairs, mix
from veritune.atomic.probe import correct_rates, potentially_known
from veritune.data.kb import kb_entity_names
from veritune.engines import engine_from_config
from veritune.jsonl import iter_json_lines, read_records, write_records
from veritune.judge import build_judge
from veritune.judge.normalize import split_sentences
from veritune.records import Question, Sample, Verdict
from veritune.stages import eval_stages
from veritune.stages.base import Context, Stage
from veritune.stages.data import DataStage
from veritune.stages.judge import judge_samples
from veritune.stages.report import ReportStage
from veritune.stages.sample import sample_questions
from veritune.stages.train import TrainStage
from veritune.tasks import get_task


def entities(ctx: Context, split: str) -> list[str]:
    """Entities of ``split`` with kb questions; for train, at most
    ``apeft.entities_per_domain`` per relation (seeded)."""
    cap = ctx.cfg.apeft.entities_per_domain if split == "train" else None
    by_domain: dict[str, list[str]] = {}
    for q in ctx.questions([split]):
        if q.source == "kb":
            by_domain.setdefault(q.domain, [])
            if q.entity not in by_domain[q.domain]:
                by_domain[q.domain].append(q.entity)
    chosen: list[str] = []
    for domain in sorted(by_domain):
        ents = sorted(by_domain[domain])
        random.Random(f"{ctx.cfg.seed}:apeft:{domain}").shuffle(ents)
        chosen += [e for e in ents[:cap] if e not in chosen]
    return chosen


def longform_questions(ctx: Context, split: str) -> list[Question]:
    names = kb_entity_names()
    return [Question(id=e, question=longform_prompt(e, names.get(e, e)), answers=["-"],
                     domain=e.split(":")[0], entity=e, split=split)
            for e in entities(ctx, split)]


def answers(ctx: Context) -> list[dict]:
    prompts = {q.id: q.question for q in longform_questions(ctx, "train")}
    return [{"id": f"{s.question_id}#{s.index}", "entity": s.question_id,
             "prompt": prompts[s.question_id], "index": s.index, "text": s.text}
            for s in read_records(ctx.paths.file("longform.jsonl"), Sample.from_dict)]


def probe_questions(ctx: Context) -> list[Question]:
    ids = {f["question_id"] for _, f in iter_json_lines(ctx.paths.file("facts.jsonl"))
           if f["question_id"]}
    return [q for q in ctx.questions(["train"]) if q.id in ids]


class LongformStage(Stage):
    name = "longform"

    def inputs(self, ctx: Context) -> list[Path]:
        return [ctx.paths.questions]

    def outputs(self, ctx: Context) -> list[Path]:
        return [ctx.paths.file("longform.jsonl")]

    def key(self, ctx: Context) -> tuple:
        a = ctx.cfg.apeft
        keys = {k: getattr(a, k) for k in ("entities_per_domain", "n", "temperature", "top_p",
                                           "max_new_tokens")}
        return (keys, ctx.cfg.model, ctx.cfg.seed)

    def run(self, ctx: Context) -> dict:
        cfg, a = ctx.cfg, ctx.cfg.apeft
        counts = sample_questions(ctx.engine(cfg.model.name), longform_questions(ctx, "train"),
                                  a.longform_params(cfg.seed), self.outputs(ctx)[0],
                                  "{question}", a.batch_size)
        ctx.log(f"longform: {counts}")
        return counts


class FactsStage(Stage):
    name = "facts"

    def inputs(self, ctx: Context) -> list[Path]:
        return [ctx.paths.questions, ctx.paths.file("longform.jsonl")]

    def outputs(self, ctx: Context) -> list[Path]:
        return [ctx.paths.file("facts.jsonl"), ctx.paths.file("longform_scores.jsonl")]

    def key(self, ctx: Context) -> tuple:
        cfg, a = ctx.cfg, ctx.cfg.apeft
        decomposer = a.decomposer or cfg.model
        return (a.extraction, a.gamma, cfg.judge, decomposer if a.extraction == "llm" else "")

    def run(self, ctx: Context) -> dict:
        cfg, a = ctx.cfg, ctx.cfg.apeft
        questions = ctx.questions()
        judge = build_judge(cfg, questions)
        of_entity: dict[str, list[Question]] = {}
        for q in questions:
            of_entity.setdefault(q.entity, []).append(q)
        found_answers = answers(ctx)
        units = None
        if a.extraction == "llm":
            sentences = [split_sentences(ans["text"]) for ans in found_answers]
            engine = engine_from_config(a.decomposer) if a.decomposer else \
                ctx.engine(cfg.model.name)
            flat = decompose(engine, [s for ss in sentences for s in ss])
            units, i = [], 0
            for ss in sentences:
                units.append([f for part in flat[i:i + len(ss)] for f in part])
                i += len(ss)
        facts, scores = [], []
        for k, ans in enumerate(found_answers):
            found = extract_facts(ans, of_entity.get(ans["entity"], []), judge,
                                  units[k] if units else None)
            facts += found
            scores.append({"id": ans["id"], **answer_score(found, a.gamma)})
        facts_file, scores_file = self.outputs(ctx)
        write_records(facts_file, facts)
        write_records(scores_file, scores)
        counts = {"answers": len(found_answers), "facts": len(facts),
                  **{lab: sum(f.label == lab for f in facts)
                     for lab in ("supported", "contradicted", "unverifiable")},
                  "answers_scored": sum(s["score"] is not None for s in scores)}
        scored = [s["score"] for s in scores if s["score"] is not None]
        counts["mean_score"] = round(sum(scored) / len(scored), 4) if scored else None
        ctx.log(f"facts: {counts}")
        return counts


class ProbeStage(Stage):
    name = "probe"

    def inputs(self, ctx: Context) -> list[Path]:
        return [ctx.paths.file("facts.jsonl")]

    def outputs(self, ctx: Context) -> list[Path]:
        return [ctx.paths.file("probe_samples.jsonl"), ctx.paths.file("probe_verdicts.jsonl")]

    def key(self, ctx: Context) -> tuple:
        cfg, a = ctx.cfg, ctx.cfg.apeft
        return (a.probe_n, a.probe_temperature, cfg.sample.top_p, cfg.sample.top_k,
                cfg.sample.max_new_tokens, cfg.model, cfg.judge, cfg.prompt, cfg.seed)

    def run(self, ctx: Context) -> dict:
        cfg, a = ctx.cfg, ctx.cfg.apeft
        samples_file, verdicts_file = self.outputs(ctx)
        qs = probe_questions(ctx)
        sample_questions(ctx.engine(cfg.model.name), qs, a.probe_params(cfg.sample, cfg.seed),
                         samples_file, cfg.prompt, cfg.sample.batch_size)
        judge = build_judge(cfg, ctx.questions())
        judge_samples(judge, {q.id: q for q in qs}, read_records(samples_file, Sample.from_dict),
                      verdicts_file)
        rates = correct_rates(read_records(verdicts_file, Verdict.from_dict))
        known = potentially_known(rates, a.probe_low, a.probe_high)
        counts = {"probed": len(qs), "potentially_known": len(known),
                  "always_right": sum(r >= a.probe_high for r in rates.values()),
                  "never_right": sum(r <= a.probe_low for r in rates.values())}
        ctx.log(f"probe: {counts}")
        return counts


class ApeftPairsStage(Stage):
    """General pairs (paragraphs ranked by FActScore-style precision) mixed with atomic
    pairs (the potentially known facts); recorded as ``pairs``, as PKUE's pairs are."""
    name = "pairs"

    def inputs(self, ctx: Context) -> list[Path]:
        return [ctx.paths.file(n) for n in ("longform.jsonl", "longform_scores.jsonl",
                                             "probe_verdicts.jsonl")]

    def outputs(self, ctx: Context) -> list[Path]:
        return [ctx.paths.pairs, ctx.paths.sft, ctx.paths.pairs_trl]

    def key(self, ctx: Context) -> tuple:
        a = ctx.cfg.apeft
        keys = {k: getattr(a, k) for k in ("min_gap", "max_general_pairs_per_prompt",
                                           "use_atomic", "atomic_prompt", "atomic_ratio",
                                           "probe_low", "probe_high")}
        return (keys, ctx.cfg.seed)

    def run(self, ctx: Context) -> dict:
        cfg, a = ctx.cfg, ctx.cfg.apeft
        _, scores_file, verdicts_file = self.inputs(ctx)
        scores = {s["id"]: s for _, s in iter_json_lines(scores_file)}
        general = general_pairs(answers(ctx), scores, a.min_gap, a.max_general_pairs_per_prompt)
        atomic = []
        if a.use_atomic:
            rates = correct_rates(read_records(verdicts_file, Verdict.from_dict))
            known = potentially_known(rates, a.probe_low, a.probe_high)
            lf = {q.entity: q.question for q in longform_questions(ctx, "train")}
            atomic = atomic_pairs([q for q in probe_questions(ctx) if q.id in known],
                                  kb_entity_names(), a.atomic_prompt, lf, cfg.seed)
        pairs = mix(general, atomic, a.atomic_ratio, cfg.seed)
        write_records(ctx.paths.pairs, pairs)
        write_records(ctx.paths.sft, [])
        write_records(ctx.paths.pairs_trl, [p.to_trl() for p in pairs])
        counts = {"pairs": len(pairs), "general": sum(p.kind == "general" for p in pairs),
                  "atomic": sum(p.kind == "atomic" for p in pairs),
                  "atomic_available": len(atomic)}
        ctx.log(f"pairs: {counts}")
        return counts


def ood_prompts(spec: str, folder: Path) -> str:
    """A prompt file for the out-of-domain set: ``truthfulqa`` (its questions) or a path."""
    if spec != "truthfulqa":
        return spec
    task = get_task("truthfulqa_gen")
    items = task.load(task.default_data(), None, 0)
    path = folder / "shift_out_of_domain.txt"
    path.write_text("".join(it.question + "\n" for it in items), encoding="utf-8")
    return str(path)


class ShiftStage(Stage):
    name = "shift"

    def applies(self, ctx: Context) -> bool:
        if not ctx.paths.model.exists():
            ctx.log("shift: no tuned model")
            return False
        return True

    def inputs(self, ctx: Context) -> list[Path]:
        return [ctx.paths.model]

    def outputs(self, ctx: Context) -> list[Path]:
        return [ctx.paths.eval / "shift"]

    def key(self, ctx: Context) -> tuple:
        a = ctx.cfg.apeft
        return (a.shift_ood, a.shift_limit, a.shift_max_new_tokens, ctx.cfg.model)

    def run(self, ctx: Context) -> dict:
        cfg, a = ctx.cfg, ctx.cfg.apeft
        in_domain = ctx.paths.eval / "shift_in_domain.txt"
        in_domain.parent.mkdir(parents=True, exist_ok=True)
        in_domain.write_text("".join(q.question + "\n"
                                     for q in longform_questions(ctx, "test")[:a.shift_limit]))
        ctx.release()
        m = run_shift(cfg.model.name, ctx.tuned,
                      {"in_domain": str(in_domain),
                       "out_of_domain": ood_prompts(a.shift_ood, ctx.paths.eval)},
                      self.outputs(ctx)[0], limit=a.shift_limit,
                      max_new_tokens=a.shift_max_new_tokens)
        counts = {name: {k: s[k] for k in ("shifted_rate", "marginal_rate", "unshifted_rate",
                                           "n_tokens")} for name, s in m["sets"].items()}
        ctx.log(f"shift: {counts}")
        return counts


APEFT_STAGES = {
    "data": [DataStage()],
    "longform": [LongformStage()],
    "facts": [FactsStage()],
    "probe": [ProbeStage()],
    "pairs": [ApeftPairsStage()],
    "train": [TrainStage()],
    "eval": eval_stages(),
    "shift": [ShiftStage()],
    "report": [ReportStage()],
}
