"""``veritune apeft CONFIG``: the APEFT run, stage by stage, in the same run directory layout.

    data -> longform -> facts -> probe -> pairs -> train -> eval -> shift -> report

``longform`` samples ``apeft.n`` long answers for each training entity; ``facts`` splits and
grounds them (``facts.jsonl``) and scores each answer (``longform_scores.jsonl``); ``probe``
samples the kb question of every decided fact (``probe_samples.jsonl``,
``probe_verdicts.jsonl``); ``pairs`` writes the general pairs, plus the atomic pairs of the
potentially known facts unless ``apeft.use_atomic`` is off; ``train`` and ``eval`` are the
PKUE pipeline's (set ``eval.suite`` to include ``factscore``); ``shift`` compares base and
tuned token distributions on held-out long-form prompts (in-domain) and on TruthfulQA
questions (out-of-domain). Every stage resumes and is skipped when up to date.
"""

from __future__ import annotations

import random
from pathlib import Path

from veritune.atomic.factscore import answer_score, general_pairs
from veritune.atomic.facts import decompose, extract_facts
from veritune.atomic.longform import longform_prompt
from veritune.atomic.pairs import atomic_pairs, mix
from veritune.atomic.probe import correct_rates, potentially_known
from veritune.engines import SamplingParams
from veritune.jsonl import iter_json_lines, read_records, write_records
from veritune.judge import build_judge
from veritune.pipeline import Pipeline
from veritune.records import Question, Sample, Verdict

APEFT_STAGES = ("data", "longform", "facts", "probe", "pairs", "train", "eval", "shift",
                "report")


class ApeftPipeline(Pipeline):
    stages = APEFT_STAGES

    # -- helpers ------------------------------------------------------------------------------
    def _names(self) -> dict[str, str]:
        from veritune.data.kb import kb_entity_names

        return kb_entity_names()

    def _entities(self, split: str) -> list[str]:
        """Entities of ``split`` with kb questions; for train, at most
        ``apeft.entities_per_domain`` per relation (seeded)."""
        cap = self.cfg.apeft.entities_per_domain if split == "train" else None
        by_domain: dict[str, list[str]] = {}
        for q in self.questions([split]):
            if q.source == "kb":
                by_domain.setdefault(q.domain, [])
                if q.entity not in by_domain[q.domain]:
                    by_domain[q.domain].append(q.entity)
        chosen: list[str] = []
        for domain in sorted(by_domain):
            ents = sorted(by_domain[domain])
            random.Random(f"{self.cfg.seed}:apeft:{domain}").shuffle(ents)
            chosen += [e for e in ents[:cap] if e not in chosen]
        return chosen

    def _longform_questions(self, split: str) -> list[Question]:
        names = self._names()
        return [Question(id=e, question=longform_prompt(e, names.get(e, e)), answers=["-"],
                         domain=e.split(":")[0], entity=e, split=split)
                for e in self._entities(split)]

    # -- stages -------------------------------------------------------------------------------
    def longform(self) -> None:
        from veritune.sample import sample_questions

        cfg, a = self.cfg, self.cfg.apeft
        out = self.p("longform.jsonl")
        keys = {k: getattr(a, k) for k in ("entities_per_domain", "n", "temperature", "top_p",
                                           "max_new_tokens")}
        if not self.store.begin("longform", self.hash(keys, cfg.model, cfg.seed),
                                [self.p("questions.jsonl")], [out]):
            return self.log("longform: up to date")
        params = SamplingParams(n=a.n, temperature=a.temperature, top_p=a.top_p, top_k=0,
                                max_new_tokens=a.max_new_tokens, seed=cfg.seed)
        counts = sample_questions(self.engine(cfg.model.name), self._longform_questions("train"),
                                  params, out, "{question}", a.batch_size)
        self.store.finish("longform", counts)
        self.log(f"longform: {counts}")

    def _answers(self) -> list[dict]:
        prompts = {q.id: q.question for q in self._longform_questions("train")}
        return [{"id": f"{s.question_id}#{s.index}", "entity": s.question_id,
                 "prompt": prompts[s.question_id], "index": s.index, "text": s.text}
                for s in read_records(self.p("longform.jsonl"), Sample.from_dict)]

    def facts(self) -> None:
        cfg, a = self.cfg, self.cfg.apeft
        outs = [self.p("facts.jsonl"), self.p("longform_scores.jsonl")]
        inputs = [self.p("questions.jsonl"), self.p("longform.jsonl")]
        decomposer = a.decomposer or cfg.model
        h = self.hash(a.extraction, a.gamma, cfg.judge, decomposer if a.extraction == "llm" else "")
        if not self.store.begin("facts", h, inputs, outs):
            return self.log("facts: up to date")
        questions = self.questions()
        judge = build_judge(cfg, questions)
        of_entity: dict[str, list[Question]] = {}
        for q in questions:
            of_entity.setdefault(q.entity, []).append(q)
        answers = self._answers()
        units = None
        if a.extraction == "llm":
            from veritune.judge.normalize import split_sentences

            sentences = [split_sentences(ans["text"]) for ans in answers]
            from veritune.engines import engine_from_config

            engine = engine_from_config(a.decomposer) if a.decomposer else \
                self.engine(cfg.model.name)
            flat = decompose(engine, [s for ss in sentences for s in ss])
            units, i = [], 0
            for ss in sentences:
                units.append([f for part in flat[i:i + len(ss)] for f in part])
                i += len(ss)
        facts, scores = [], []
        for k, ans in enumerate(answers):
            found = extract_facts(ans, of_entity.get(ans["entity"], []), judge,
                                  units[k] if units else None)
            facts += found
            scores.append({"id": ans["id"], **answer_score(found, a.gamma)})
        write_records(outs[0], facts)
        write_records(outs[1], scores)
        counts = {"answers": len(answers), "facts": len(facts),
                  **{lab: sum(f.label == lab for f in facts)
                     for lab in ("supported", "contradicted", "unverifiable")},
                  "answers_scored": sum(s["score"] is not None for s in scores)}
        scored = [s["score"] for s in scores if s["score"] is not None]
        counts["mean_score"] = round(sum(scored) / len(scored), 4) if scored else None
        self.store.finish("facts", counts)
        self.log(f"facts: {counts}")

    def _probe_questions(self) -> list[Question]:
        ids = {f["question_id"] for _, f in iter_json_lines(self.p("facts.jsonl"))
               if f["question_id"]}
        return [q for q in self.questions(["train"]) if q.id in ids]

    def probe(self) -> None:
        from veritune.sample import sample_questions
        from veritune.verdicts import judge_samples

        cfg, a = self.cfg, self.cfg.apeft
        outs = [self.p("probe_samples.jsonl"), self.p("probe_verdicts.jsonl")]
        h = self.hash(a.probe_n, a.probe_temperature, cfg.sample.top_p, cfg.sample.top_k,
                      cfg.sample.max_new_tokens, cfg.model, cfg.judge, cfg.prompt, cfg.seed)
        if not self.store.begin("probe", h, [self.p("facts.jsonl")], outs):
            return self.log("probe: up to date")
        qs = self._probe_questions()
        params = SamplingParams(n=a.probe_n, temperature=a.probe_temperature,
                                top_p=cfg.sample.top_p, top_k=cfg.sample.top_k,
                                max_new_tokens=cfg.sample.max_new_tokens, seed=cfg.seed)
        sample_questions(self.engine(cfg.model.name), qs, params, outs[0], cfg.prompt,
                         cfg.sample.batch_size)
        judge = build_judge(cfg, self.questions())
        judge_samples(judge, {q.id: q for q in qs}, read_records(outs[0], Sample.from_dict),
                      outs[1])
        rates = correct_rates(read_records(outs[1], Verdict.from_dict))
        known = potentially_known(rates, a.probe_low, a.probe_high)
        counts = {"probed": len(qs), "potentially_known": len(known),
                  "always_right": sum(r >= a.probe_high for r in rates.values()),
                  "never_right": sum(r <= a.probe_low for r in rates.values())}
        self.store.finish("probe", counts)
        self.log(f"probe: {counts}")

    def pairs(self) -> None:
        cfg, a = self.cfg, self.cfg.apeft
        outs = [self.p("pairs.jsonl"), self.p("sft.jsonl"), self.p("pairs.trl.jsonl")]
        inputs = [self.p(n) for n in ("longform.jsonl", "longform_scores.jsonl",
                                      "probe_verdicts.jsonl")]
        keys = {k: getattr(a, k) for k in ("min_gap", "max_general_pairs_per_prompt",
                                           "use_atomic", "atomic_prompt", "atomic_ratio",
                                           "probe_low", "probe_high")}
        if not self.store.begin("pairs", self.hash(keys, cfg.seed), inputs, outs):
            return self.log("pairs: up to date")
        scores = {s["id"]: s for _, s in iter_json_lines(inputs[1])}
        general = general_pairs(self._answers(), scores, a.min_gap,
                                a.max_general_pairs_per_prompt)
        atomic = []
        if a.use_atomic:
            rates = correct_rates(read_records(inputs[2], Verdict.from_dict))
            known = potentially_known(rates, a.probe_low, a.probe_high)
            lf = {q.entity: q.question for q in self._longform_questions("train")}
            atomic = atomic_pairs([q for q in self._probe_questions() if q.id in known],
                                  self._names(), a.atomic_prompt, lf, cfg.seed)
        pairs = mix(general, atomic, a.atomic_ratio, cfg.seed)
        write_records(outs[0], pairs)
        write_records(outs[1], [])
        write_records(outs[2], [p.to_trl() for p in pairs])
        counts = {"pairs": len(pairs), "general": sum(p.kind == "general" for p in pairs),
                  "atomic": sum(p.kind == "atomic" for p in pairs),
                  "atomic_available": len(atomic)}
        self.store.finish("pairs", counts)
        self.log(f"pairs: {counts}")

    def shift(self) -> None:
        from veritune.analysis.run import run_shift

        cfg, a = self.cfg, self.cfg.apeft
        out = self.p("eval/shift")
        if not self.p("model").exists():
            return self.log("shift: no tuned model")
        h = self.hash(a.shift_ood, a.shift_limit, a.shift_max_new_tokens, cfg.model)
        if not self.store.begin("shift", h, [self.p("model")], [out]):
            return self.log("shift: up to date")
        in_domain = self.p("eval/shift_in_domain.txt")
        in_domain.parent.mkdir(parents=True, exist_ok=True)
        in_domain.write_text("".join(q.question + "\n"
                                     for q in self._longform_questions("test")[:a.shift_limit]))
        self._engines.clear()
        base = cfg.model.name
        m = run_shift(base, str(self.p("model")),
                      {"in_domain": str(in_domain), "out_of_domain": _ood_prompts(a.shift_ood, self.p("eval"))},
                      out, limit=a.shift_limit, max_new_tokens=a.shift_max_new_tokens)
        counts = {name: {k: s[k] for k in ("shifted_rate", "marginal_rate", "unshifted_rate",
                                           "n_tokens")} for name, s in m["sets"].items()}
        self.store.finish("shift", counts)
        self.log(f"shift: {counts}")


def _ood_prompts(spec: str, folder: Path) -> str:
    """A prompt file for the out-of-domain set: ``truthfulqa`` (its questions) or a path."""
    if spec != "truthfulqa":
        return spec
    from veritune.tasks import get_task

    items = get_task("truthfulqa_gen").load(get_task("truthfulqa_gen").default_data(), None, 0)
    path = folder / "shift_out_of_domain.txt"
    path.write_text("".join(it.question + "\n" for it in items), encoding="utf-8")
    return str(path)

