"""The train stage: DPO, SFT, SFT+DPO or SFT then DPO on the run's pairs; the model card.

    veritune train configs/quickstart.yaml
    veritune train --model embedded --pairs pairs.jsonl --sft sft.jsonl --out DIR

The anchors (``train.anchor``) are sampled first, as a stage of their own (``anchors.py``).
With ``train.eval_steps`` the policy is scored on the validation split during training (the
run's judge and prompt; ``train.select: validation`` keeps the best step), so the stage's
result then depends on those too. The recipes are ``veritune.train``'s.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from transformers import AutoTokenizer

from veritune.datasets_io import read_pairs, read_sft
from veritune.dtype import resolve_dtype
from veritune.engines.embedded import resolve_model
from veritune.engines.hf import HFEngine
from veritune.engines.iti import read_meta
from veritune.errors import InputError
from veritune.jsonl import read_records, write_records
from veritune.judge import build_judge
from veritune.records import Pair, Question
from veritune.report.card import write_run_card
from veritune.stages.anchors import AnchorsStage, run_anchors
from veritune.stages.base import Context, Stage
from veritune.tasks.precise_qa import evaluate_questions
from veritune.train import train
from veritune.train.iti import iti_alphas


def validation_questions(ctx: Context) -> tuple[list[Question], list[Question]]:
    """(all questions, the validation ones) for scoring during training; none is an error
    before any model loads."""
    questions = ctx.questions()
    valid = [q for q in questions if q.split == "validation"]
    if not valid:
        raise InputError("scoring on validation while training (train.eval_steps, or several "
                         "train.iti_alpha to choose from) needs a validation split and this "
                         "run has none: set data.validation_fraction above 0 (or give "
                         "questions split: validation)", field="data.validation_fraction")
    return questions, valid


def validation_scorer(ctx: Context, questions: list[Question], valid: list[Question]):
    """``evaluate(model) -> float``: greedy accuracy on the validation questions with the
    evaluation judge and the run's prompt (eval.max_new_tokens, eval.batch_size), for
    train.select."""
    cfg = ctx.cfg
    judge = build_judge(cfg.for_evaluation(), questions)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(cfg.model.name),
                                              trust_remote_code=cfg.model.trust_remote_code)
    greedy_only = dataclasses.replace(cfg.eval, best_of_n=0)

    def evaluate(model) -> float:
        engine = HFEngine(model, tokenizer=tokenizer, device=cfg.model.device)
        examples = evaluate_questions(engine, valid, judge, greedy_only, cfg.prompt,
                                      seed=cfg.seed)
        return sum(e.label == "correct" for e in examples) / len(examples)

    return evaluate


def _last(history: list[dict], key: str):
    values = [row[key] for row in history if key in row]
    return values[-1] if values else None


class TrainStage(Stage):
    """``external``: the pairs and SFT targets are files from anywhere (TRL's format too,
    JSONL, Parquet or a datasets folder), as ``veritune train --pairs`` takes them."""
    name = "train"

    def __init__(self, external: bool = False):
        self.external = external

    def check(self, ctx: Context) -> None:
        if ctx.cfg.train.anchor:  # a bad anchor file fails before sampling
            AnchorsStage().check(ctx)

    def _validates(self, ctx: Context) -> bool:
        train = ctx.cfg.train  # in training, or ITI's shift chosen among several
        return bool(train.eval_steps) or (train.method == "iti" and len(iti_alphas(train)) > 1)

    def inputs(self, ctx: Context) -> list[Path]:
        cfg, paths = ctx.cfg, ctx.paths
        out = [p for p in (paths.pairs, paths.sft) if p is not None]
        if self._validates(ctx):
            validation_questions(ctx)  # none is an error now
            out.append(paths.questions)
        if cfg.train.anchor:
            out.append(Path(cfg.train.anchor.questions))
        return out

    def outputs(self, ctx: Context) -> list[Path]:
        return [ctx.paths.model, ctx.paths.train_log]

    def key(self, ctx: Context) -> tuple:
        cfg = ctx.cfg
        if self._validates(ctx):  # validation scores depend on the judge and the prompt
            return (cfg.train, cfg.model, cfg.seed, cfg.eval_judge, cfg.prompt,
                    cfg.eval.max_new_tokens, cfg.eval.batch_size)
        return (cfg.train, cfg.model, cfg.seed)

    def _records(self, path: Path | None, sft: bool) -> list[Pair]:
        if path is None:
            return []
        if self.external:
            return read_sft(path) if sft else read_pairs(path)
        return read_records(path, Pair.from_dict, unique=False)

    def run(self, ctx: Context) -> dict | None:
        cfg, paths = ctx.cfg, ctx.paths
        anchors, anchor_counts = run_anchors(ctx) if cfg.train.anchor else ([], {})
        ctx.release()
        evaluate = validation_scorer(ctx, *validation_questions(ctx)) \
            if self._validates(ctx) else None
        pairs, sft = self._records(paths.pairs, False), self._records(paths.sft, True)
        result = train(cfg.model.name, pairs, sft, cfg.train, paths.root, seed=cfg.seed,
                       trust_remote_code=cfg.model.trust_remote_code, evaluate=evaluate,
                       resume_key=ctx.key, anchors=anchors,
                       model_dtype=resolve_dtype(cfg.model.dtype, cfg.model.device))
        if not result["main_process"]:  # under accelerate launch: rank 0 records
            return None
        write_records(paths.train_log, result["history"])
        history = result["history"]
        counts = {"method": result["method"], "pairs": result["pairs"],
                  "sft_targets": result["sft_targets"], "steps": _last(history, "step"),
                  "final_loss": _last(history, "train_loss"), **anchor_counts}
        if _last(history, "selected_step") is not None:
            counts["selected_step"] = _last(history, "selected_step")
        if result.get("resumed"):
            counts["resumed"] = result["resumed"]
        if cfg.train.method == "iti":  # the shift kept and how well its heads' probes did
            counts["iti"] = {k: v for k, v in read_meta(paths.model).items() if k != "heads"}
        write_run_card(cfg, paths.model, counts)
        ctx.log(f"train: {counts}")
        return counts
