"""Ablations: several training variants on the same sampled data, one summary table.

    veritune ablate configs/ablations/ [--limit N] [--only pkue,sft_one] [--set k=v]
    veritune ablate configs/ablations/ --seeds 0,1,2     # every variant over three seeds

``DIR/_base.yaml`` is the shared config (data, sampling, judge, evaluation suite); every other
``DIR/*.yaml`` is a variant that ``extends: _base.yaml`` and changes pairs or training (or
the training judge: its verdicts are then redrawn on the shared samples). The
shared stages (data, sample, judge, and the base model's evaluation) run once in
``runs/<base name>/``; each variant copies their records into ``runs/<base name>/<variant>/``
and runs pairs, train, eval and report there. The result is ``runs/<base name>/summary.{csv,
md,json}`` (one row per variant, one column per task, Avg. against the base model) and
``ablations.png`` (Avg. per variant, and the data-size curve for variants that set
``pairs.question_fraction``).

With ``--seeds``, seed ``s`` runs all of the above in ``runs/<base name>/seed<s>/`` (the data
seed held fixed, so every seed and variant has the same held-out questions), and
``runs/<base name>/seeds_summary.json`` / ``report.md`` hold each variant's mean gain with its
interval on every evaluated split, its guard, and which differences between variants are real
(``seeds.summarize_ablation``).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Callable, Sequence

from veritune.config import RunConfig, load_config
from veritune.errors import VerituneError
from veritune.jsonl import atomic_write_json, read_json
from veritune.pipeline.loop import run_pipeline
from veritune.pipeline.rounds import final_dir, run_rounds
from veritune.pipeline.seeds import share_base, summarize_ablation
from veritune.report.markdown import write_report
from veritune.runs.store import load_manifest
from veritune.stages.suite import summarize_suite, write_summary
from veritune.tasks import SUITES

SHARED_FILES = ("questions.jsonl", "samples.jsonl", "verdicts.jsonl")
SHARED_STAGES = ("data", "sample", "judge", "eval/base")


def variant_files(directory: Path, only: Sequence[str] | None = None) -> list[Path]:
    files = sorted(p for p in directory.glob("*.yaml") if not p.name.startswith("_"))
    if only:
        missing = set(only) - {p.stem for p in files}
        if missing:
            raise VerituneError(f"no variant(s) {sorted(missing)} in {directory}; "
                               f"variants: {', '.join(p.stem for p in files)}")
        files = [p for p in files if p.stem in only]
    return files


def shared_differs(cfg: RunConfig, base: RunConfig) -> str | None:
    """What of the shared side (questions, samples, model, evaluation) a variant changes, or
    None. Its training judge may differ (Self-Eval-SKT): its verdicts are then its own, drawn
    on the shared samples, while everything evaluated keeps the base's evaluation judge."""
    if cfg.seed != base.seed:
        return "seed"
    for section in ("data", "sample", "model"):
        if getattr(cfg, section) != getattr(base, section):
            return section
    if dataclasses.replace(cfg.eval, judge=None) != dataclasses.replace(base.eval, judge=None) \
            or cfg.eval_judge != base.eval_judge:
        return "eval"
    return None


def _seed_variant(shared: Path, target: Path) -> None:
    """Copy the shared records and their manifest entries, so the variant skips those stages."""
    target.mkdir(parents=True, exist_ok=True)
    for name in SHARED_FILES:
        shutil.copy2(shared / name, target / name)
    for part in ("base", "suite/base", "guard/base"):  # the base model's results, once
        if (shared / "eval" / part).exists():
            shutil.copytree(shared / "eval" / part, target / "eval" / part, dirs_exist_ok=True)
    src = load_manifest(shared / "manifest.json")
    manifest_path = target / "manifest.json"
    dst = load_manifest(manifest_path) if manifest_path.exists() else \
        {"stages": {}, "versions": src.get("versions", {})}
    for stage in SHARED_STAGES:
        if stage in src["stages"]:
            dst["stages"][stage] = src["stages"][stage]
    atomic_write_json(manifest_path, dst)


def one_round_twin(cfg: RunConfig, variants: dict[str, RunConfig]) -> RunConfig | None:
    """The variant that is ``cfg`` with one round (same config but its name), if ``cfg`` has
    several: its run is ``cfg``'s round 1 (iterative DPO beside PKUE trains round 1 once)."""
    if cfg.train.rounds < 2:
        return None

    def plain(c: RunConfig) -> RunConfig:  # all but the name, description and rounds
        return dataclasses.replace(c, name=cfg.name, description=cfg.description,
                                   train=dataclasses.replace(c.train, rounds=1))

    return next((c for c in variants.values() if c is not cfg and c.train.rounds == 1
                 and plain(c) == plain(cfg)), None)


def _copy_round_one(twin: Path, target: Path) -> None:
    """The twin's run (records, model, evaluations, manifest) as ``target``'s round 1; rounds
    after it (``round<r>/``) are ``target``'s own."""
    for item in twin.iterdir():
        if item.name.startswith("round"):
            continue
        dest = target / item.name
        if item.is_dir():
            shutil.copytree(item, dest, dirs_exist_ok=True)
        else:
            shutil.copy2(item, dest)


def run_ablations(directory: Path, overrides: Sequence[str] = (), only=None,
                  log: Callable[[str], None] = print) -> dict:
    base_file = directory / "_base.yaml"
    if not base_file.exists():
        raise VerituneError(f"{base_file} not found: an ablation folder needs _base.yaml")
    base = load_config(base_file, list(overrides))
    run_pipeline(base, ("data", "sample", "judge", "eval"), log=log)  # the base model's, once
    variants: dict[str, RunConfig] = {}
    for path in variant_files(directory, only):
        cfg = load_config(path, list(overrides))
        differs = shared_differs(cfg, base)
        if differs:
            raise VerituneError(f"{path}: a variant may change the training judge, pairs and "
                               f"train only; its {differs} differs from _base.yaml")
        cfg.runs_dir, cfg.name = str(base.run_dir), path.stem
        variants[path.stem] = cfg
    # a variant of several rounds runs after its one-round twin, whose run is its round 1
    for name, cfg in sorted(variants.items(), key=lambda kv: kv[1].train.rounds > 1):
        log(f"ablation {name}: {cfg.description}")
        _seed_variant(base.run_dir, cfg.run_dir)
        twin = one_round_twin(cfg, variants)
        if twin is not None and (twin.run_dir / "manifest.json").exists():
            _copy_round_one(twin.run_dir, cfg.run_dir)
            log(f"ablation {name}: round 1 is {twin.name}'s run (the same config), copied")
        run_rounds(cfg, log=log)  # one round: the pipeline; more: iterative DPO
    # the table covers every variant run so far, not only those of this call (--only)
    for path in variant_files(directory):
        if path.stem not in variants and (base.run_dir / path.stem / "manifest.json").exists():
            cfg = load_config(path, list(overrides))
            cfg.runs_dir, cfg.name = str(base.run_dir), path.stem
            variants[path.stem] = cfg
    return summarize_ablations(base, dict(sorted(variants.items())))


def run_ablation_seeds(directory: Path, overrides: Sequence[str], seeds: Sequence[int],
                       only=None, log: Callable[[str], None] = print) -> dict:
    """``run_ablations`` once per seed into ``runs/<base name>/seed<s>/``, then the summary
    over seeds (``seeds_summary.json``, ``report.md``, ``report.html`` there)."""
    base = load_config(directory / "_base.yaml", list(overrides))
    root = base.run_dir
    first = None
    for seed in seeds:
        log(f"== seed {seed} (data seed {base.data_seed}) -> {root / f'seed{seed}'}")
        if first is not None:
            share_base(first, root / f"seed{seed}")
        run_ablations(directory, [*overrides, f"seed={seed}", f"data.seed={base.data_seed}",
                                  f"runs_dir={root}", f"name=seed{seed}"], only=only, log=log)
        first = first or root / f"seed{seed}"
    configs = {p.stem: load_config(p, list(overrides)) for p in variant_files(directory)}
    summary = summarize_ablation(root, seeds, {k: c.description for k, c in configs.items()},
                                 base.eval.splits,
                                 finals={k: f"round{c.train.rounds}" for k, c in configs.items()
                                         if c.train.rounds > 1})
    summary["data_seed"] = base.data_seed
    curve = size_curve(summary, configs)
    if curve:
        summary["size_curve"] = curve
    atomic_write_json(root / "seeds_summary.json", summary)
    write_report(root)
    return summary


def _in_sweep(name: str, method: str | None) -> bool:
    """A variant of the data-size sweep: PKUE (``pkue``, all questions) or ``size_*``, plain
    DPO, on a share of the training questions."""
    return name.startswith(("pkue", "size_")) and method == "dpo"


def size_curve(summary: dict, configs: dict[str, RunConfig]) -> dict | None:
    """The data-size curve over seeds (the paper's Fig. 5): for each split, every sweep
    variant's share of the training questions and its mean gain with the interval, by share;
    None with fewer than two shares."""
    points = sorted((configs[name].pairs.question_fraction, name)
                    for name in summary["variants"] if name in configs
                    and _in_sweep(name, configs[name].train.method))
    if len({f for f, _ in points}) < 2:
        return None
    out = {}
    for split in sorted({s for v in summary["variants"].values() for s in v["splits"]}):
        rows = [{"variant": name, "fraction": f,
                 **{k: summary["variants"][name]["splits"][split][k]
                    for k in ("change", "low", "high", "min_seed_change")}}
                for f, name in points if split in summary["variants"][name]["splits"]]
        if len(rows) > 1:
            out[split] = rows
    return out or None


def _stage_seconds(run_dir: Path, stages: Sequence[str]) -> float:
    manifest = load_manifest(run_dir / "manifest.json")["stages"]
    return round(sum(manifest.get(s, {}).get("seconds", 0.0) for s in stages), 1)


def summarize_ablations(base: RunConfig, variants: dict[str, RunConfig]) -> dict:
    def suite_metrics(run_dir: Path, label: str) -> dict[str, dict]:
        out = {}
        for f in sorted((run_dir / "eval" / "suite" / label).glob("*/metrics.json")):
            out[f.parent.name] = read_json(f)
        test = run_dir / "eval" / label / "test" / "metrics.json"
        if test.exists():
            out["precise_qa"] = {**read_json(test), "headline": "accuracy"}
        return out

    results = {"base": suite_metrics(base.run_dir, "base")}
    for name, cfg in variants.items():  # a variant of several rounds: its last round's model
        results[name] = suite_metrics(final_dir(cfg), "tuned")
    tasks = _task_order(results)  # a variant missing a task gets no Avg.
    summary = summarize_suite(results, tasks)
    for row in summary["rows"]:
        cfg = variants.get(row["model"])
        row["description"] = cfg.description if cfg else "the base model, untuned"
        row["train_seconds"] = (_stage_seconds(cfg.run_dir, ("pairs", "anchors", "train"))
                                if cfg else 0.0)
        row["pairs"] = _pairs_count(cfg.run_dir) if cfg else 0
        row["question_fraction"] = cfg.pairs.question_fraction if cfg else None
        row["method"] = cfg.train.method if cfg else None
    summary["seed"] = base.seed
    write_summary(summary, base.run_dir)
    plot_ablations(summary, base.run_dir / "ablations.png")
    return summary


def _task_order(results: dict) -> list[str]:
    seen = {t for r in results.values() for t in r}
    return [t for t in SUITES["default"] if t in seen] + sorted(seen - set(SUITES["default"]))


def _pairs_count(run_dir: Path) -> int:
    f = run_dir / "manifest.json"
    stages = load_manifest(f)["stages"]
    counts = stages.get("train", {}).get("counts", {})
    return int(counts.get("pairs") or counts.get("sft_targets") or 0)


def plot_ablations(summary: dict, path: Path) -> None:
    import matplotlib  # deferred: matplotlib is slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import

    rows = [r for r in summary["rows"] if r["model"] != summary["base"]]
    sweep = sorted((r for r in rows if r.get("question_fraction")
                    and _in_sweep(r["model"], r.get("method"))),
                   key=lambda r: r["question_fraction"])
    fig, axes = plt.subplots(1, 2 if len(sweep) > 1 else 1, figsize=(11, 4), squeeze=False)
    ax = axes[0][0]
    ax.barh([r["model"] for r in rows], [r["avg"] or 0.0 for r in rows], color="#4C72B0")
    for i, r in enumerate(rows):
        if r["avg"] is None:
            ax.text(0, i, " no full suite", va="center", fontsize=8, color="grey")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("Avg. change vs base (points)")
    ax.set_title("Ablations")
    if len(sweep) > 1:
        ax = axes[0][1]
        xs = [100 * r["question_fraction"] for r in sweep]
        ax.plot(xs, [r["values"].get("precise_qa", float("nan")) for r in sweep], "o-",
                label="precise_qa accuracy (%)")
        base = next(r for r in summary["rows"] if r["model"] == summary["base"])
        ax.axhline(base["values"].get("precise_qa", float("nan")), ls="--", color="grey",
                   label="base precise_qa")
        ax2 = ax.twinx()
        full = [(x, r["avg"]) for x, r in zip(xs, sweep) if r["avg"] is not None]
        if full:  # Avg. only where the variant has the whole suite
            ax2.plot(*zip(*full), "s", color="#C44E52", label="Avg.")
        ax2.set_ylabel("Avg. change (points)")
        ax.set_xlabel("training questions used (%)")
        ax.set_title("Data size")
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
