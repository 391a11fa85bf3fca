"""The PKUE pipeline: each stage reads the records of the one before it in the run directory.

    veritune run configs/quickstart.yaml

data -> sample -> judge -> pairs -> train -> eval -> report. Each stage is skipped when it
finished with the same config and inputs, and resumes when it was interrupted.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Callable

from veritune.anchors import anchor_key, anchor_stage, check_anchor_file
from veritune.config import RunConfig, hashable
from veritune.data.questions import build_questions, limit_per_split
from veritune.engines import SamplingParams, engine_from_config, scoring_config
from veritune.errors import InputError, VeritunError
from veritune.jsonl import (atomic_write_json, iter_json_lines, read_json, read_records,
                            write_records)
from veritune.judge import build_judge, suite_judge
from veritune.records import Pair, Question, Sample, Verdict
from veritune.runstore import RunStore, StageConfig

STAGES = ("data", "sample", "judge", "pairs", "train", "eval", "report")


class Pipeline:
    def __init__(self, cfg: RunConfig, log: Callable[[str], None] = print):
        if cfg.eval.suite:  # an unknown task is an error now, not after training
            from veritune.tasks import suite_tasks

            try:
                suite_tasks(cfg.eval.suite)
            except VeritunError as e:
                raise InputError(str(e), field="eval.suite") from None
        self.cfg = cfg
        self.store = RunStore(cfg.run_dir)
        self.log = log
        self._engines: dict[str, object] = {}
        changed = self.store.save_config(cfg)
        if changed:  # config.yaml is the latest command's; each stage's is in manifest.json
            self.log(f"config.yaml: {', '.join(changed[:8])}{' ...' if len(changed) > 8 else ''} "
                     "changed since the last command; manifest.json keeps each stage's config")

    # -- helpers ------------------------------------------------------------------------------
    def p(self, name: str) -> Path:
        return self.store.path(name)

    def questions(self, splits: list[str] | None = None) -> list[Question]:
        qs = read_records(self.p("questions.jsonl"), Question.from_dict)
        return [q for q in qs if splits is None or q.split in splits]

    def model_config(self, model: str, scoring: bool = False):
        """The model settings ``model`` (base or tuned) runs with; ``scoring``: to evaluate
        it, in one precision for base and tuned, never below what either stores
        (``scoring_config``: float32 beside a float32 fine-tune)."""
        cfg = self.cfg.model
        tuned = str(self.p("model"))
        if model == tuned:  # the tuned weights are local: load them here
            cfg = dataclasses.replace(cfg, engine="hf")
        if not scoring:
            return cfg
        return scoring_config(cfg, model, *([tuned] if self.p("model").exists() else []))

    def engine(self, model: str, scoring: bool = False):
        key = (model, scoring)
        if key not in self._engines:
            self._engines.clear()  # one model in memory at a time
            if model == str(self.p("model")):
                from veritune.modelfiles import check_model_dir

                check_model_dir(model)  # a half-written folder is an error, not a model
            self._engines[key] = engine_from_config(self.model_config(model, scoring), model)
        return self._engines[key]

    def scorer(self, model: str):
        """The engine that evaluates ``model`` (eval stage, guard, suite)."""
        return self.engine(model, scoring=True)

    def hash(self, *parts) -> StageConfig:
        """The stage's config hash; the manifest keeps ``parts`` (as plain data) beside it."""
        return StageConfig.of(*parts)

    # -- stages -------------------------------------------------------------------------------
    def data(self) -> None:
        cfg = self.cfg
        src = [Path(cfg.data.source)] if cfg.data.source != "kb" and \
            not cfg.data.source.startswith("hf:") else []
        out = self.p("questions.jsonl")
        if not self.store.begin("data", self.hash(cfg.data, cfg.data_seed, cfg.limit), src,
                                [out]):
            return self.log("data: up to date")
        questions = build_questions(cfg)
        write_records(out, questions)
        counts = {s: sum(q.split == s for q in questions) for s in ("train", "validation", "test")}
        counts["domains"] = len({q.domain for q in questions})
        self.store.finish("data", counts)
        self.log(f"data: {len(questions)} questions {counts}")

    def sample(self) -> None:
        from veritune.sample import sample_questions

        cfg, s = self.cfg, self.cfg.sample
        out = self.p("samples.jsonl")
        h = self.hash(s, cfg.model, cfg.prompt, cfg.seed)
        if not self.store.begin("sample", h, [self.p("questions.jsonl")], [out]):
            return self.log("sample: up to date")
        params = SamplingParams(n=s.n, temperature=s.temperature, top_p=s.top_p, top_k=s.top_k,
                                max_new_tokens=s.max_new_tokens, seed=cfg.seed)
        counts = sample_questions(self.engine(cfg.model.name), self.questions(s.splits), params,
                                  out, cfg.prompt, s.batch_size)
        self.store.finish("sample", counts)
        self.log(f"sample: {counts}")

    def judge(self) -> None:
        from veritune.verdicts import judge_samples, label_counts

        out = self.p("verdicts.jsonl")
        inputs = [self.p("questions.jsonl"), self.p("samples.jsonl")]
        if not self.store.begin("judge", self.hash(self.cfg.judge), inputs, [out]):
            return self.log("judge: up to date")
        questions = self.questions()
        samples = read_records(inputs[1], Sample.from_dict)
        judge = build_judge(self.cfg, questions)
        judge_samples(judge, {q.id: q for q in questions}, samples, out)
        counts = label_counts(read_records(out, Verdict.from_dict))
        if hasattr(judge, "decided"):  # ensemble: which judge decided how many (this run)
            counts["decided_by"] = dict(judge.decided)
        llm = getattr(judge, "llm", judge)
        if hasattr(llm, "calls"):  # answers sent to the judge model (cache hits are free)
            counts["llm_calls"], counts["llm_mode"] = llm.calls, llm.mode
        self.store.finish("judge", counts)
        self.log(f"judge: {counts}")

    def pairs(self) -> None:
        from veritune.pairs import build_pairs, pair_stats

        cfg = self.cfg
        outs = [self.p("pairs.jsonl"), self.p("sft.jsonl"), self.p("pairs.trl.jsonl")]
        inputs = [self.p(n) for n in ("questions.jsonl", "samples.jsonl", "verdicts.jsonl")]
        if not self.store.begin("pairs", self.hash(cfg.pairs, cfg.prompt, cfg.seed), inputs, outs):
            return self.log("pairs: up to date")
        questions = {q.id: q for q in self.questions(cfg.sample.splits)}
        samples = read_records(inputs[1], Sample.from_dict)
        verdicts = read_records(inputs[2], Verdict.from_dict)
        pairs, sft = build_pairs(questions, samples, verdicts, cfg.pairs, cfg.prompt, cfg.seed)
        write_records(outs[0], pairs)
        write_records(outs[1], sft)
        write_records(outs[2], [p.to_trl() for p in pairs])
        counts = pair_stats(pairs, sft, len(questions))
        self.store.finish("pairs", counts)
        self.log(f"pairs: {counts}")

    def train(self) -> None:
        from veritune.train import train

        cfg = self.cfg
        model_dir = self.p("model")
        inputs = [self.p("pairs.jsonl"), self.p("sft.jsonl")]
        outs = [model_dir, self.p("train_log.jsonl")]
        h = self.hash(cfg.train, cfg.model, cfg.seed)
        validation = self._validation() if cfg.train.eval_steps else None
        if validation:  # validation scores depend on the questions, the judge and the prompt
            inputs.append(self.p("questions.jsonl"))
            h = self.hash(cfg.train, cfg.model, cfg.seed, cfg.judge, cfg.prompt,
                          cfg.eval.max_new_tokens, cfg.eval.batch_size)
        anchor = cfg.train.anchor  # the base model's answers to general prompts (anchors.py)
        if anchor:  # a bad file fails before any model loads
            inputs.append(check_anchor_file(anchor))
        if not self.store.begin("train", h, inputs, outs):
            return self.log("train: up to date")
        anchors, anchor_counts = anchor_stage(
            self.store, self.hash(anchor_key(anchor), cfg.model, cfg.seed, cfg.limit), cfg,
            lambda: self.engine(cfg.model.name), self.log) if anchor else ([], {})
        self.store.restart_clock("train")  # the anchors step has its own seconds
        self._engines.clear()
        pairs = read_records(inputs[0], Pair.from_dict, unique=False)
        sft = read_records(inputs[1], Pair.from_dict, unique=False)
        result = train(cfg.model.name, pairs, sft, cfg.train, self.store.dir, seed=cfg.seed,
                       trust_remote_code=cfg.model.trust_remote_code,
                       evaluate=self._validation_scorer(*validation) if validation else None,
                       resume_key=[h, self.store.manifest["stages"]["train"]["inputs"]],
                       anchors=anchors)
        from accelerate import PartialState

        if not PartialState().is_main_process:  # under accelerate launch: rank 0 records
            return
        write_records(outs[1], result["history"])
        counts = {"method": result["method"], "pairs": result["pairs"],
                  "sft_targets": result["sft_targets"], "steps": _last(result["history"], "step"),
                  "final_loss": _last(result["history"], "train_loss"), **anchor_counts}
        if _last(result["history"], "selected_step") is not None:
            counts["selected_step"] = _last(result["history"], "selected_step")
        if result.get("resumed"):
            counts["resumed"] = result["resumed"]
        self._write_card(counts)
        self.store.finish("train", counts)
        self.log(f"train: {counts}")

    def _validation(self) -> tuple[list[Question], list[Question]]:
        """(all questions, the validation ones) for scoring during training; none is an error
        before any model loads."""
        from veritune.errors import InputError

        questions = self.questions()
        valid = [q for q in questions if q.split == "validation"]
        if not valid:
            raise InputError("train.eval_steps scores the validation split and this run has "
                             "none: set data.validation_fraction above 0 (or give questions "
                             "split: validation)", field="data.validation_fraction")
        return questions, valid

    def _validation_scorer(self, questions: list[Question], valid: list[Question]):
        """``evaluate(model) -> float``: greedy accuracy on the validation questions with the
        run's judge and prompt (eval.max_new_tokens, eval.batch_size), for train.select."""
        from transformers import AutoTokenizer

        from veritune.engines.embedded import resolve_model
        from veritune.engines.hf import HFEngine
        from veritune.evaluate import evaluate_questions

        cfg = self.cfg
        judge = build_judge(cfg, questions)
        tokenizer = AutoTokenizer.from_pretrained(resolve_model(cfg.model.name),
                                                  trust_remote_code=cfg.model.trust_remote_code)
        greedy_only = dataclasses.replace(cfg.eval, best_of_n=0)

        def evaluate(model) -> float:
            engine = HFEngine(model, tokenizer=tokenizer, device=cfg.model.device)
            examples = evaluate_questions(engine, valid, judge, greedy_only, cfg.prompt,
                                          seed=cfg.seed)
            return sum(e.label == "correct" for e in examples) / len(examples)

        return evaluate

    def eval(self) -> None:
        from veritune.evaluate import compare, run_eval

        cfg = self.cfg
        models = {"base": cfg.model.name}
        if self.p("model").exists():
            models["tuned"] = str(self.p("model"))
        else:  # no tuned model (yet): results of an earlier one would be stale
            shutil.rmtree(self.p("eval/tuned"), ignore_errors=True)
            for f in self.p("eval").glob("compare_*.json"):
                f.unlink()
        questions_all = self.questions()
        judge = build_judge(cfg, questions_all)
        # Evaluation draws (best-of-n) follow the data seed: every training seed of a config
        # is evaluated the same way, and the base model's results are the same in each.
        sampling = dict(sample_temperature=cfg.sample.temperature, top_p=cfg.sample.top_p,
                        top_k=cfg.sample.top_k, seed=cfg.data_seed)
        # The suite's and the guard's settings are left out: they keep their results per
        # (model, task).
        core = {k: v for k, v in hashable(cfg.eval).items()
                if not k.startswith(("suite", "guard"))}
        for label, model in models.items():
            h = self.hash(core, cfg.judge, cfg.prompt, sampling, self.model_config(model, True))
            inputs = [self.p("questions.jsonl")] + ([self.p("model")] if label == "tuned" else [])
            out = self.p(f"eval/{label}")
            if not self.store.begin(f"eval/{label}", h, inputs, [out]):
                self.log(f"eval/{label}: up to date")
                continue
            counts = {}
            for split in cfg.eval.splits:
                qs = [q for q in questions_all if q.split == split]
                qs = limit_per_split(qs, cfg.eval.limit) if cfg.eval.limit else qs
                if not qs:
                    continue
                m = run_eval(self.scorer(model), qs, judge, cfg.eval, cfg.prompt,
                             out / split, **sampling)
                counts[split] = {k: m[k] for k in ("accuracy", "n", "mean_response_tokens",
                                                   "truncated_rate") if k in m}
                counts[split]["best_of_n"] = m.get("best_of_n")
                self.log(f"eval/{label}/{split}: accuracy {m['accuracy']:.3f} "
                         f"(n={m['n']}), best-of-n {m.get('best_of_n')}, "
                         f"mean tokens {m['mean_response_tokens']}, "
                         f"truncated {m['truncated_rate']:.2f}")
            self.store.finish(f"eval/{label}", counts)
        cards: dict[str, dict] = {}
        if "tuned" in models:
            for split in cfg.eval.splits:
                files = [self.p(f"eval/{m}/{split}/examples.jsonl") for m in ("base", "tuned")]
                if all(f.exists() for f in files):
                    result = compare(*([o for _, o in iter_json_lines(f)] for f in files))
                    atomic_write_json(self.p("eval") / f"compare_{split}.json", result)
                    cards[split] = result
                    self.log(f"eval/{split}: base {result['accuracy_before']:.3f} -> tuned "
                             f"{result['accuracy_after']:.3f}; wrong->right "
                             f"{result['wrong_to_right']}, right->wrong "
                             f"{result['right_to_wrong']}, McNemar p={result['mcnemar_p']}")

            if cards:
                self._update_model_card(cards)
        if cfg.eval.guard:
            self.guard(models)
        if cfg.eval.suite:
            summary = self.suite(models)
            if "tuned" in models and cards:
                self._update_model_card(cards, summary)

    def guard(self, models: dict[str, str]) -> dict:
        """The out-of-domain guard on base and tuned, compared item by item (guard.py)."""
        from veritune.guard import guard_plan, run_guard
        from veritune.suite import engine_key

        cfg = self.cfg
        self._engines.clear()
        # The tuned weights are an input: retrained weights rerun the stage (its tasks keep
        # their results per model files, so the base model's are not computed again); so do
        # another precision a model is scored in, another task metric or task version.
        inputs = [self.p("model")] if "tuned" in models else []
        out = self.p("eval/guard/compare.json")
        engines = {label: engine_key(self.model_config(m, True)) for label, m in models.items()}
        h = self.hash(guard_plan(cfg.eval.guard, cfg.eval.guard_limit), cfg.judge,
                      cfg.data_seed, engines)
        if not self.store.begin("eval/guard", h, inputs, [out]):
            self.log("eval/guard: up to date")
            return read_json(out)
        questions = self.questions()
        result = run_guard(models, cfg.eval.guard, self.p("eval/guard"), self.scorer,
                           limit=cfg.eval.guard_limit, seed=cfg.data_seed,
                           batch_size=cfg.eval.suite_batch_size,
                           judge_for=lambda t: suite_judge(cfg, t, questions), log=self.log,
                           settings=lambda m: engine_key(self.model_config(m, True)))
        self.store.finish("eval/guard", result)
        return result

    def suite(self, models: dict[str, str]) -> dict:
        """The evaluation suite on base and tuned; precise QA is the run's own test split."""
        from veritune.suite import engine_key, judge_key, run_suite
        from veritune.tasks import suite_tasks

        cfg = self.cfg
        tasks = suite_tasks(cfg.eval.suite)
        given = {}
        for label in models:
            f = self.p(f"eval/{label}/test/metrics.json")
            if "precise_qa" in tasks and f.exists():
                given[label] = {"precise_qa": {**read_json(f), "task": "precise_qa",
                                               "headline": "accuracy"}}
        self._engines.clear()
        # Always entered: run_suite itself skips each (model, task) already done and current.
        self.store.begin("eval/suite", self.hash(cfg.eval, cfg.judge, cfg.data_seed), [], [])
        limits = {t: cfg.eval.suite_limit for t in tasks} if cfg.eval.suite_limit else None
        questions = self.questions()
        summary = run_suite(models, tasks, self.p("eval/suite"), self.scorer, limits=limits,
                            seed=cfg.data_seed, batch_size=cfg.eval.suite_batch_size,
                            data={"precise_qa": str(self.p("questions.jsonl"))},
                            judge_for=lambda t: suite_judge(cfg, t, questions), given=given,
                            log=self.log, judge_key_for=lambda t: judge_key(cfg.judge, t),
                            settings=lambda m: engine_key(self.model_config(m, True)))
        self.store.finish("eval/suite", {r["model"]: {"avg": r["avg"], **r["values"]}
                                         for r in summary["rows"]})
        return summary

    def _update_model_card(self, results: dict[str, dict], suite: dict | None = None) -> None:
        counts = {k: v for k, v in self.store.counts("train").items() if k != "final_loss"}
        metrics = {split: {k: r[k] for k in ("n", "accuracy_before", "accuracy_after",
                                             "wrong_to_right", "right_to_wrong", "mcnemar_p")}
                   for split, r in results.items()}
        self._write_card(counts, metrics, suite)

    def _write_card(self, counts: dict, metrics: dict | None = None,
                    suite: dict | None = None) -> None:
        from veritune.train.card import describe_source, write_model_card

        cfg = self.cfg
        questions, datasets = describe_source(cfg.data.source)
        write_model_card(self.p("model"), cfg.model.name, cfg.train.method, counts, metrics,
                         train=cfg.train, datasets=datasets, suite=suite, model_name=cfg.name,
                         questions=questions)

    def report(self) -> None:
        from veritune.report import write_report

        path = write_report(self.store.dir)
        self.log(f"report: {path}")

    stages: tuple[str, ...] = STAGES

    def run(self, stages: tuple[str, ...] | None = None) -> None:
        stages = stages or self.stages
        if "eval" in stages and self.cfg.eval.guard:  # a missing file fails before sampling
            from veritune.guard import check_guard_data

            check_guard_data(self.cfg.eval.guard)
        for name in stages:
            getattr(self, name)()


def _last(history: list[dict], key: str):
    values = [row[key] for row in history if key in row]
    return values[-1] if values else None
