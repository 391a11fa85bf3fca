"""Several training seeds of one config, on one fixed split, summarised with intervals.

    veritune run configs/kb.yaml --seeds 0,1,2
    veritune ablate configs/ablations/ --seeds 0,1,2

Seed ``s`` runs into ``runs/<name>/seed<s>/`` with ``seed: s`` (sampling, pairs, training)
and ``data.seed`` fixed (the config's ``data.seed``, else its ``seed``): every seed has the same
questions, the same held-out split and the same evaluation items, so the seeds are paired.
The base model's results do not depend on the training seed: the first seed computes them;
the others start from a copy (questions, ``eval/base``, the base model's suite and guard
results), which each stage's own hash check accepts only when config and inputs agree.

``runs/<name>/seeds_summary.json`` (and ``report.md`` / ``report.html`` there): per evaluated
split, the mean held-out gain with its 95% interval (paired bootstrap over questions and
seeds, ``stats.paired_bootstrap``), every seed's gain and McNemar test, answer length and
truncation; the same for the guard and every suite task.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Callable, Sequence

from veritune.config import RunConfig
from veritune.errors import InputError
from veritune.jsonl import atomic_write_json, iter_json_lines, read_json
from veritune.pipeline.rounds import run_rounds
from veritune.report.markdown import write_report
from veritune.stages.guard import DEFAULT_GUARD
from veritune.stats import mcnemar_p, pair_items, paired_bootstrap, verdict
from veritune.tasks import item_scores

SHARED_STAGES = ("data", "eval/base")
SHARED_PATHS = ("questions.jsonl", "eval/base", "eval/suite/base", "eval/guard/base")


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` -> ``[0, 1, 2]``; distinct non-negative integers."""
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise InputError(f"expected comma-separated integers, got {text!r}",
                         field="--seeds") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise InputError(f"expected distinct non-negative integers, got {text!r}",
                         field="--seeds")
    return seeds


def seed_config(cfg: RunConfig, seed: int) -> RunConfig:
    """The config of one seed: ``runs/<name>/seed<seed>``, the data seed held fixed."""
    out = copy.deepcopy(cfg)
    out.data.seed = cfg.data_seed
    out.seed = seed
    out.runs_dir, out.name = str(cfg.run_dir), f"seed{seed}"
    return out


def share_base(src: Path, dst: Path, stages: Sequence[str] = SHARED_STAGES) -> None:
    """Copy the seed-independent results of ``src`` (a finished seed) into ``dst``, with their
    manifest entries; ``dst``'s own runs check them as for any finished stage."""
    manifest = src / "manifest.json"
    if not manifest.exists():
        return
    entries = read_json(manifest)["stages"]
    dst.mkdir(parents=True, exist_ok=True)
    mine_path = dst / "manifest.json"
    mine = read_json(mine_path) if mine_path.exists() else \
        {"stages": {}, "versions": read_json(manifest).get("versions", {})}
    for stage in stages:
        if entries.get(stage, {}).get("status") == "done" and \
                mine["stages"].get(stage, {}).get("status") != "done":
            mine["stages"][stage] = entries[stage]
    for rel in SHARED_PATHS:
        if (src / rel).is_dir() and not (dst / rel).exists():
            shutil.copytree(src / rel, dst / rel)
        elif (src / rel).is_file() and not (dst / rel).exists():
            shutil.copy2(src / rel, dst / rel)
    atomic_write_json(mine_path, mine)


def run_seeds(cfg: RunConfig, seeds: Sequence[int], stages: Sequence[str] | None = None,
              log: Callable[[str], None] = print) -> dict:
    """Run ``cfg`` once per seed; write and return ``runs/<name>/seeds_summary.json``."""
    first: Path | None = None
    for seed in seeds:
        c = seed_config(cfg, seed)
        log(f"== seed {seed} (data seed {c.data.seed}) -> {c.run_dir}")
        if first is not None:
            share_base(first, c.run_dir)
        run_rounds(c, stages, log=log)
        first = first or c.run_dir
    return write_run_summary(cfg, seeds, log)


def write_run_summary(cfg: RunConfig, seeds: Sequence[int],
                      log: Callable[[str], None] = print) -> dict:
    summary = summarize_run(cfg.run_dir, seeds, cfg.eval.splits, name=cfg.name)
    summary["data_seed"] = cfg.data_seed
    atomic_write_json(cfg.run_dir / "seeds_summary.json", summary)
    write_report(cfg.run_dir)
    for split, block in summary["splits"].items():
        log(f"seeds {split}: mean gain {_pts(block['change'])} points, 95% CI "
            f"[{_pts(block['low'])}, {_pts(block['high'])}], per seed "
            f"{', '.join(_pts(r['change']) for r in block['per_seed'])}")
    for r, blocks in (summary.get("rounds") or {}).items():
        if r != "chosen" and "validation" in blocks:
            block = blocks["validation"]
            log(f"seeds round {r} validation: mean gain {_pts(block['change'])} points, 95% CI "
                f"[{_pts(block['low'])}, {_pts(block['high'])}]")
    log(f"summary -> {cfg.run_dir / 'seeds_summary.json'}")
    return summary


def _pts(x) -> str:
    return "–" if x is None else f"{100 * x:+.1f}"


# -- reading a run's results -----------------------------------------------------------------
def _examples(path: Path) -> list[dict] | None:
    f = path / "examples.jsonl"
    if not f.exists():
        return None
    return [obj for _, obj in iter_json_lines(f)]


def _metrics(path: Path) -> dict:
    f = path / "metrics.json"
    return read_json(f) if f.exists() else {}


def task_metric(task: str, folder: Path, guard: bool = True) -> str:
    """The metric a task is compared on: a guard task's guard metric, else its headline."""
    if guard and task in DEFAULT_GUARD:
        return DEFAULT_GUARD[task][0]
    return _metrics(folder).get("headline", "accuracy")


def scores(path: Path, metric: str) -> list[tuple[str, float]] | None:
    """Per-item (key, score) of one evaluation folder (``examples.jsonl``)."""
    examples = _examples(path)
    return None if examples is None else item_scores(examples, metric)


# -- the paired summary ----------------------------------------------------------------------
def paired_block(base: dict[int, list], tuned: dict[int, list]) -> dict | None:
    """``base[seed]`` and ``tuned[seed]``: (key, score) lists. Items are those every seed has
    on both sides; the change's interval resamples items and seeds (``paired_bootstrap``)."""
    seeds = [s for s in tuned if base.get(s) is not None and tuned[s] is not None]
    if not seeds:
        return None
    common = None
    for s in seeds:
        keys = set(pair_items(base[s], tuned[s])[0])
        common = keys if common is None else common & keys
    order = [k for k, _ in base[seeds[0]] if k in common]
    if not order:
        return None
    rows, per_seed = [], []
    for s in seeds:
        b, t = dict(base[s]), dict(tuned[s])
        xb, xt = [b[k] for k in order], [t[k] for k in order]
        diffs = [y - x for x, y in zip(xb, xt)]
        rows.append(diffs)
        one = paired_bootstrap(diffs)
        row = {"seed": s, "base": _mean(xb), "tuned": _mean(xt), "change": one["mean"],
               "low": one["low"], "high": one["high"]}
        if set(xb) | set(xt) <= {0.0, 1.0}:  # a right/wrong score: McNemar on the flips
            up = sum(x == 0 and y == 1 for x, y in zip(xb, xt))
            down = sum(x == 1 and y == 0 for x, y in zip(xb, xt))
            row.update(wrong_to_right=up, right_to_wrong=down,
                       mcnemar_p=round(mcnemar_p(up, down), 6))
        per_seed.append(row)
    ci = paired_bootstrap(rows)
    return {"n": len(order), "seeds": seeds, "base": _mean(r["base"] for r in per_seed),
            "tuned": _mean(r["tuned"] for r in per_seed), "change": ci["mean"],
            "low": ci["low"], "high": ci["high"], "verdict": verdict(ci),
            "min_seed_change": min(r["change"] for r in per_seed), "per_seed": per_seed}


def _mean(values) -> float:
    values = list(values)
    return round(sum(values) / len(values), 6) if values else 0.0


def seed_dirs(root: Path, seeds: Sequence[int]) -> dict[int, Path]:
    return {s: root / f"seed{s}" for s in seeds if (root / f"seed{s}").is_dir()}


def in_domain(dirs: dict[int, Path], split: str, base_dirs: dict[int, Path] | None = None,
              label: str = "tuned") -> dict | None:
    """Greedy accuracy on ``split``: tuned (``dirs``) against base, paired; with answer shape."""
    base_dirs = base_dirs or dirs
    base = {s: scores(base_dirs[s] / "eval" / "base" / split, "accuracy") for s in dirs}
    tuned = {s: scores(d / "eval" / label / split, "accuracy") for s, d in dirs.items()}
    block = paired_block(base, tuned)
    if block is None:
        return None
    for row in block["per_seed"]:
        b = _metrics(base_dirs[row["seed"]] / "eval" / "base" / split)
        t = _metrics(dirs[row["seed"]] / "eval" / label / split)
        row.update(truncated_rate=t.get("truncated_rate"),
                   base_truncated_rate=b.get("truncated_rate"),
                   mean_response_tokens=t.get("mean_response_tokens"),
                   base_mean_response_tokens=b.get("mean_response_tokens"))
        if b.get("mean_response_tokens") and t.get("mean_response_tokens") is not None:
            row["length_ratio"] = round(t["mean_response_tokens"] / b["mean_response_tokens"], 3)
    return {"metric": "accuracy", **block}


def task_blocks(dirs: dict[int, Path], kind: str, base_dirs: dict[int, Path] | None = None,
                label: str = "tuned") -> dict[str, dict]:
    """Every guard (``kind="guard"``) or suite (``"suite"``) task found, paired per item on
    its guard metric or headline."""
    base_dirs = base_dirs or dirs
    tasks = sorted({p.name for d in dirs.values() for p in (d / "eval" / kind / label).glob("*")
                    if p.is_dir()})
    out = {}
    for task in tasks:
        first = next(iter(dirs.values())) / "eval" / kind / label / task
        metric = task_metric(task, first, guard=kind == "guard")
        base = {s: scores(base_dirs[s] / "eval" / kind / "base" / task, metric) for s in dirs}
        tuned = {s: scores(d / "eval" / kind / label / task, metric) for s, d in dirs.items()}
        block = paired_block(base, tuned)
        if block is not None:
            out[task] = {"metric": metric, **block}
    return out


def summarize_run(root: Path, seeds: Sequence[int], splits: Sequence[str],
                  name: str = "") -> dict:
    dirs = seed_dirs(root, seeds)
    out = {"config": name or root.name, "seeds": list(dirs), "level": 0.95, "splits": {}}
    for split in splits:
        block = in_domain(dirs, split)
        if block:
            out["splits"][split] = block
    out["guard"] = task_blocks(dirs, "guard")
    out["suite"] = {t: b for t, b in task_blocks(dirs, "suite").items() if t != "precise_qa"}
    out["guard_falls"] = [t for t, b in out["guard"].items() if b["verdict"] == "fall"]
    rounds = rounds_blocks(dirs, splits)
    if rounds:
        out["rounds"] = rounds
    return out


def rounds_blocks(dirs: dict[int, Path], splits: Sequence[str]) -> dict | None:
    """Iterative DPO (``train.rounds``): each round's tuned model against the seed's base
    model (round 1 is the run itself, round r its ``round<r>/``), paired over the seeds, and
    the round each seed's ``rounds.json`` chose on validation. None for one round."""
    found = sorted({int(p.name[5:]) for d in dirs.values() for p in d.glob("round*")
                    if p.is_dir() and p.name[5:].isdigit()})
    if not found:
        return None
    out: dict = {"chosen": {s: read_json(d / "rounds.json").get("chosen")
                            for s, d in dirs.items() if (d / "rounds.json").exists()}}
    for r in [1, *found]:
        rdirs = dirs if r == 1 else {s: d / f"round{r}" for s, d in dirs.items()
                                     if (d / f"round{r}").is_dir()}
        blocks = {split: in_domain(rdirs, split, base_dirs=dirs) for split in splits}
        out[str(r)] = {split: b for split, b in blocks.items() if b}
    return out


def summarize_ablation(root: Path, seeds: Sequence[int], variants: dict[str, str],
                       splits: Sequence[str], finals: dict[str, str] | None = None) -> dict:
    """Each variant (``runs/<base>/seed<s>/<variant>/``) against the base model, over the
    seeds; and every pair of variants compared directly (tuned A minus tuned B, paired on
    items and seeds): ``real`` when the interval of the difference excludes 0. ``finals``:
    a variant of several rounds is read from its last round's folder (``round<N>``), still
    against the base model."""
    shared = seed_dirs(root, seeds)
    finals = finals or {}
    out = {"config": root.name, "seeds": list(shared), "level": 0.95, "variants": {},
           "differences": {}}
    per_variant: dict[str, dict[int, Path]] = {}
    for name, description in variants.items():
        firsts = {s: d / name for s, d in shared.items() if (d / name).is_dir()}
        dirs = {s: d / finals.get(name, "") for s, d in firsts.items()
                if (d / finals.get(name, "")).is_dir()}
        if not dirs:
            continue
        per_variant[name] = dirs
        entry = {"description": description, "splits": {},
                 "guard": task_blocks(dirs, "guard", base_dirs=firsts)}
        if name in finals:
            entry["final"] = finals[name]
            entry["rounds"] = rounds_blocks(firsts, splits)
        for split in splits:
            block = in_domain(dirs, split, base_dirs=firsts)
            if block:
                entry["splits"][split] = block
        entry["guard_falls"] = [t for t, b in entry["guard"].items() if b["verdict"] == "fall"]
        out["variants"][name] = entry
    names = list(per_variant)
    for split in splits:
        rows = []
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                seeds_ab = [s for s in per_variant[a] if s in per_variant[b]]
                tuned_a = {s: scores(per_variant[a][s] / "eval/tuned" / split, "accuracy")
                           for s in seeds_ab}
                tuned_b = {s: scores(per_variant[b][s] / "eval/tuned" / split, "accuracy")
                           for s in seeds_ab}
                block = paired_block(tuned_b, tuned_a)
                if block:
                    rows.append({"a": a, "b": b, "n": block["n"], "seeds": block["seeds"],
                                 "difference": block["change"], "low": block["low"],
                                 "high": block["high"], "real": block["verdict"] != "unclear"})
        if rows:
            out["differences"][split] = rows
    return out
