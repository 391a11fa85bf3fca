"""Two settings, one question split: run A's tuned model minus run B's, paired on items and seeds.

    veritune run configs/kb.yaml --seeds 0,1,2 --set name=kb_lr5 --set train.learning_rate=5e-6
    veritune compare runs/kb_lr5 runs/kb                # validation split and the guard
    veritune compare runs/kb_lr5 runs/kb --splits test  # once, to confirm the choice

Each run's change against the base model is in its own ``seeds_summary.json``; this is the
direct comparison, the one that says whether a setting should change. Seeds are those both
runs have (``seed<s>/`` folders; a run without them counts as one seed); items those both
scored. The interval is the paired bootstrap over items and seeds of the seeds summary
(``seeds.paired_block``); ``A better`` / ``B better`` when it excludes 0. The default split is
validation: settings are chosen there, never on test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from veritune.errors import InputError
from veritune.pipeline.seeds import paired_block, scores, task_metric

VERDICTS = {"gain": "A better", "fall": "B better", "unclear": "unclear"}


def seed_folders(root: Path) -> dict[int, Path]:
    """seed -> folder: ``root/seed<s>/``, or ``{0: root}`` for a run without seed folders."""
    if not root.is_dir():
        raise InputError(f"{root}: no such run directory")
    found = {int(p.name[4:]): p for p in root.glob("seed*") if p.name[4:].isdigit() and p.is_dir()}
    if found:
        return dict(sorted(found.items()))
    if (root / "eval").is_dir():
        return {0: root}
    raise InputError(f"{root}: neither seed<s>/ folders nor eval/ (run `veritune run` first)")


def _tasks(dirs: dict[int, Path]) -> set[str]:
    return {p.name for d in dirs.values() for p in (d / "eval" / "guard" / "tuned").glob("*")
            if p.is_dir()}


def _block(a: dict[int, Path], b: dict[int, Path], sub: str, metric: str) -> dict | None:
    got = paired_block({s: scores(b[s] / sub, metric) for s in a},
                       {s: scores(a[s] / sub, metric) for s in a})
    if got is None:
        return None
    for row in got["per_seed"]:  # paired_block calls its sides base / tuned: here B / A
        row["b"], row["a"] = row.pop("base"), row.pop("tuned")
    got["b"], got["a"] = got.pop("base"), got.pop("tuned")
    got["verdict"] = VERDICTS[got["verdict"]]
    return {"metric": metric, **got}


def compare_runs(a_root: str | Path, b_root: str | Path, seeds: Sequence[int] | None = None,
                 splits: Sequence[str] = ("validation",), guard: bool = True) -> dict:
    """A minus B on each split's greedy accuracy and each guard task both runs scored."""
    a_root, b_root = Path(a_root), Path(b_root)
    a_all, b_all = seed_folders(a_root), seed_folders(b_root)
    common = [s for s in a_all if s in b_all and (seeds is None or s in seeds)]
    if not common:
        raise InputError(f"{a_root} (seeds {list(a_all)}) and {b_root} (seeds {list(b_all)}) "
                         f"have no seed in common" + (f" among {list(seeds)}" if seeds else ""),
                         field="--seeds")
    a, b = {s: a_all[s] for s in common}, {s: b_all[s] for s in common}
    out = {"a": str(a_root), "b": str(b_root), "seeds": common, "level": 0.95,
           "splits": {}, "guard": {}}
    for split in splits:
        got = _block(a, b, f"eval/tuned/{split}", "accuracy")
        if got:
            out["splits"][split] = got
    for task in sorted(_tasks(a) & _tasks(b)) if guard else []:
        sub = f"eval/guard/tuned/{task}"
        got = _block(a, b, sub, task_metric(task, a[common[0]] / sub))
        if got:
            out["guard"][task] = got
    if not out["splits"] and not out["guard"]:
        raise InputError(f"nothing to compare: no split among {list(splits)} and no guard task "
                         f"was evaluated on the tuned models of both runs", field="--splits")
    return out


def compare_lines(result: dict) -> list[str]:
    """One line per split and guard task: A - B in points with its interval, per seed."""
    lines = [f"A = {result['a']}, B = {result['b']}, seeds {result['seeds']}"]
    for name, blk in [*result["splits"].items(), *result["guard"].items()]:
        seeds = ", ".join(f"{r['change'] * 100:+.1f}" for r in blk["per_seed"])
        lines.append(f"{name:>14} ({blk['metric']}, {blk['n']} items): A {blk['a'] * 100:.1f}, "
                     f"B {blk['b'] * 100:.1f}, A - B {blk['change'] * 100:+.1f} "
                     f"[{blk['low'] * 100:+.1f}, {blk['high'] * 100:+.1f}] {blk['verdict']}; "
                     f"per seed {seeds}")
    return lines
