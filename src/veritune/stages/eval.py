"""The eval stage: greedy accuracy and best-of-n of the base and the tuned model on the run's
held-out splits, the flips between them, and the results in the model card.

    veritune eval configs/quickstart.yaml     # eval/{base,tuned}/<split>/, compare_<split>.json

``eval/base`` and ``eval/tuned`` are recorded apart (the base model's results do not depend on
training: seeds and ablations copy them); ``compare`` runs every time (it only reads files).
Evaluation draws (best-of-n) follow the data seed, so every training seed of a config is
evaluated the same way. The out-of-domain guard and the suite are their own stages
(``guard.py``, ``suite.py``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from veritune.data.questions import limit_per_split
from veritune.jsonl import atomic_write_json, iter_json_lines
from veritune.judge import build_judge
from veritune.report.card import write_run_card
from veritune.runs.keys import hashable
from veritune.stages.base import Context, Stage
from veritune.tasks.precise_qa import compare, run_eval

COMPARED = ("n", "accuracy_before", "accuracy_after", "wrong_to_right", "right_to_wrong",
            "mcnemar_p")


def eval_settings(cfg) -> dict:
    """What of ``eval:`` an evaluation depends on: not the suite's and the guard's settings
    (they keep their results per model and task), nor ``eval.judge`` as written (the key
    holds the judge it resolves to, so naming the training judge there changes nothing)."""
    return {k: v for k, v in hashable(cfg.eval).items()
            if not k.startswith(("suite", "guard")) and k != "judge"}


def draws(cfg) -> dict:
    """The best-of-n draws' settings, as the key records them."""
    return dict(sample_temperature=cfg.sample.temperature, top_p=cfg.sample.top_p,
                top_k=cfg.sample.top_k, seed=cfg.data_seed)


class EvalModelStage(Stage):
    """``eval/base`` or ``eval/tuned``: one model on every split of ``eval.splits``."""

    def __init__(self, label: str):
        self.label, self.name = label, f"eval/{label}"

    def model(self, ctx: Context) -> str:
        return ctx.cfg.model.name if self.label == "base" else ctx.tuned

    def applies(self, ctx: Context) -> bool:
        return self.label == "base" or ctx.paths.model.exists()

    def inputs(self, ctx: Context) -> list[Path]:
        return [ctx.paths.questions] + ([ctx.paths.model] if self.label == "tuned" else [])

    def outputs(self, ctx: Context) -> list[Path]:
        return [ctx.paths.eval / self.label]

    def key(self, ctx: Context) -> tuple:
        cfg = ctx.cfg
        return (eval_settings(cfg), cfg.eval_judge, cfg.prompt, draws(cfg),
                ctx.model_config(self.model(ctx), True))

    def run(self, ctx: Context) -> dict:
        cfg = ctx.cfg
        questions = ctx.questions()
        judge = build_judge(cfg.for_evaluation(), questions)
        counts = {}
        for split in cfg.eval.splits:
            qs = [q for q in questions if q.split == split]
            qs = limit_per_split(qs, cfg.eval.limit) if cfg.eval.limit else qs
            if not qs:
                continue
            m = run_eval(ctx.scorer(self.model(ctx)), qs, judge, cfg.eval, cfg.prompt,
                         ctx.paths.eval / self.label / split, cfg.sample, cfg.data_seed)
            counts[split] = {k: m[k] for k in ("accuracy", "n", "mean_response_tokens",
                                               "truncated_rate") if k in m}
            counts[split]["best_of_n"] = m.get("best_of_n")
            ctx.log(f"{self.name}/{split}: accuracy {m['accuracy']:.3f} (n={m['n']}), "
                    f"best-of-n {m.get('best_of_n')}, mean tokens {m['mean_response_tokens']}, "
                    f"truncated {m['truncated_rate']:.2f}")
        return counts


def compare_splits(ctx: Context) -> dict[str, dict]:
    """Base against tuned on each split both evaluated (``eval/compare_<split>.json``)."""
    results = {}
    for split in ctx.cfg.eval.splits:
        files = [ctx.paths.eval / m / split / "examples.jsonl" for m in ("base", "tuned")]
        if all(f.exists() for f in files):
            results[split] = compare(*([o for _, o in iter_json_lines(f)] for f in files))
    return results


def card_metrics(results: dict[str, dict]) -> dict[str, dict]:
    return {split: {k: r[k] for k in COMPARED} for split, r in results.items()}


class CompareStage(Stage):
    """The flips between base and tuned per split, into ``compare_<split>.json`` and the model
    card; with no tuned model (yet), an earlier one's results are removed as stale."""
    name = "eval/compare"
    recorded = False

    def run(self, ctx: Context) -> None:
        eval_dir = ctx.paths.eval
        if not ctx.paths.model.exists():
            shutil.rmtree(eval_dir / "tuned", ignore_errors=True)
            for f in eval_dir.glob("compare_*.json"):
                f.unlink()
            return
        results = compare_splits(ctx)
        for split, result in results.items():
            atomic_write_json(eval_dir / f"compare_{split}.json", result)
            ctx.log(f"eval/{split}: base {result['accuracy_before']:.3f} -> tuned "
                    f"{result['accuracy_after']:.3f}; wrong->right {result['wrong_to_right']}, "
                    f"right->wrong {result['right_to_wrong']}, "
                    f"McNemar p={result['mcnemar_p']}")
        if results:
            counts = {k: v for k, v in ctx.counts("train").items() if k != "final_loss"}
            write_run_card(ctx.cfg, ctx.paths.model, counts, card_metrics(results))
