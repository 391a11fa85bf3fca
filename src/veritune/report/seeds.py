"""Tables for several seeds and for the out-of-domain guard, in report.md and report.html.

Each ``*_tables`` function turns a summary (``seeds_summary.json``, ``eval/guard/compare.json``)
into sections of (title, header, rows, notes); ``markdown`` and the HTML report render them.
Values are in points (%); an interval is the 95% paired bootstrap (``veritune.stats``).
"""

from __future__ import annotations

from veritune.report.tables import markdown_table

Section = tuple[str, list[str], list[list], list[str]]


def pts(x, signed: bool = False) -> str:
    if x is None:
        return "–"
    return f"{100 * x:+.1f}" if signed else f"{100 * x:.1f}"


def ci(block: dict) -> str:
    return f"[{pts(block.get('low'), True)}, {pts(block.get('high'), True)}]"


def _flag(block: dict) -> str:
    return {"gain": "gain", "fall": "**FALL**", "unclear": "no clear change"}.get(
        block.get("verdict", ""), "–")


def task_rows(blocks: dict[str, dict]) -> list[list]:
    return [[task, b["metric"], b["n"], pts(b["base"]), pts(b["tuned"]), pts(b["change"], True),
             ci(b), ", ".join(pts(r["change"], True) for r in b["per_seed"]), _flag(b)]
            for task, b in blocks.items()]


TASK_HEADER = ["task", "metric", "n", "base", "tuned", "change", "95% CI", "per seed", "verdict"]


def guard_tables(compare: dict) -> list[Section]:
    """One run's guard (``eval/guard/compare.json``)."""
    rows = [[t, r["metric"], r.get("n", "–"), pts(r.get("base")), pts(r.get("tuned")),
             pts(r.get("change"), True), ci(r), _flag(r)]
            for t, r in compare.get("tasks", {}).items()]
    notes = [f"**Out-of-domain fall**: {t} ({compare['tasks'][t]['metric']}) falls "
             f"{pts(compare['tasks'][t]['change'], True)} points, 95% CI "
             f"{ci(compare['tasks'][t])}." for t in compare.get("falls", [])]
    return [("Out-of-domain guard (tuned vs base, paired over items)",
             ["task", "metric", "n", "base", "tuned", "change", "95% CI", "verdict"], rows,
             notes)]


def seeds_tables(summary: dict) -> list[Section]:
    """``seeds_summary.json`` of ``run --seeds`` or ``ablate --seeds``."""
    seeds = ", ".join(str(s) for s in summary.get("seeds", []))
    head = (f"seeds {seeds}; data seed {summary.get('data_seed', '–')}: every seed has the "
            "same held-out questions. Intervals resample questions and seeds.")
    if "variants" in summary:
        return _ablation_tables(summary, head)
    out: list[Section] = []
    rows = [[split, b["n"], pts(b["base"]), pts(b["tuned"]), pts(b["change"], True), ci(b),
             ", ".join(pts(r["change"], True) for r in b["per_seed"]),
             pts(b["min_seed_change"], True)] for split, b in summary["splits"].items()]
    out.append(("Held-out gain over seeds (greedy accuracy, %)",
                ["split", "n", "base", "tuned (mean)", "gain", "95% CI", "per seed",
                 "worst seed"], rows, [head]))
    for split, b in summary["splits"].items():
        rows = [[r["seed"], pts(r["base"]), pts(r["tuned"]), pts(r["change"], True),
                 f"[{pts(r['low'], True)}, {pts(r['high'], True)}]",
                 r.get("wrong_to_right", "–"), r.get("right_to_wrong", "–"),
                 r.get("mcnemar_p", "–"), pts(r.get("truncated_rate")),
                 r.get("length_ratio", "–")] for r in b["per_seed"]]
        out.append((f"Per seed: {split}", ["seed", "base", "tuned", "gain", "95% CI",
                                           "wrong→right", "right→wrong", "McNemar p",
                                           "truncated %", "length ×base"], rows, []))
    if summary.get("guard"):
        notes = [f"**Out-of-domain fall**: {t} ({summary['guard'][t]['metric']}), mean change "
                 f"{pts(summary['guard'][t]['change'], True)}, 95% CI "
                 f"{ci(summary['guard'][t])}." for t in summary.get("guard_falls", [])]
        out.append(("Out-of-domain guard over seeds", TASK_HEADER,
                    task_rows(summary["guard"]), notes))
    if summary.get("suite"):
        out.append(("Suite over seeds", TASK_HEADER, task_rows(summary["suite"]), []))
    if summary.get("rounds"):
        out.append(_rounds_table(summary["rounds"]))
    return out


def _rounds_table(rounds: dict) -> Section:
    """Iterative DPO: each round's tuned model against the base, over the seeds."""
    rows = [[r, split, pts(b["tuned"]), pts(b["change"], True), ci(b),
             ", ".join(pts(x["change"], True) for x in b["per_seed"])]
            for r, blocks in rounds.items() if r != "chosen" for split, b in blocks.items()]
    chosen = ", ".join(f"seed {s}: round {r}" for s, r in rounds.get("chosen", {}).items())
    return ("Rounds (iterative DPO) over seeds", ["round", "split", "tuned (mean)",
                                                  "gain vs base", "95% CI", "per seed"], rows,
            [f"Chosen on validation (0: the base model): {chosen or '–'}."])


def _ablation_tables(summary: dict, head: str) -> list[Section]:
    splits = sorted({s for v in summary["variants"].values() for s in v["splits"]},
                    key=lambda s: (s != "validation", s))
    header = ["variant", *(f"{s} gain [95% CI]" for s in splits),
              *(f"{s} worst seed" for s in splits), "guard falls", "description"]
    rows = []
    for name, v in summary["variants"].items():
        gains = [f"{pts(v['splits'][s]['change'], True)} {ci(v['splits'][s])}"
                 if s in v["splits"] else "–" for s in splits]
        worst = [pts(v["splits"][s]["min_seed_change"], True) if s in v["splits"] else "–"
                 for s in splits]
        rows.append([name, *gains, *worst, ", ".join(v.get("guard_falls", [])) or "none",
                     v.get("description", "")])
    out: list[Section] = [("Variants over seeds (gain vs the base model, points)", header, rows,
                           [head])]
    guard_rows = [[name, *row] for name, v in summary["variants"].items()
                  for row in task_rows(v.get("guard", {}))]
    if guard_rows:
        out.append(("Guard per variant", ["variant", *TASK_HEADER], guard_rows, []))
    for split, points in (summary.get("size_curve") or {}).items():
        rows = [[f"{100 * x['fraction']:g}%", x["variant"], pts(x["change"], True), ci(x),
                 pts(x["min_seed_change"], True)] for x in points]
        out.append((f"Data-size curve: {split}", ["training questions", "variant", "gain",
                                                  "95% CI", "worst seed"], rows,
                    ["Gain against the base model, mean over seeds (the paper's Fig. 5)."]))
    for split, diffs in summary.get("differences", {}).items():
        rows = [[d["a"], d["b"], pts(d["difference"], True),
                 f"[{pts(d['low'], True)}, {pts(d['high'], True)}]",
                 "yes" if d["real"] else "no"]
                for d in sorted(diffs, key=lambda d: (not d["real"], -abs(d["difference"])))]
        out.append((f"Differences between variants: {split}", ["A", "B", "A − B", "95% CI",
                                                              "real"], rows,
                    ["Real: the interval of the difference (paired over questions and seeds) "
                     "excludes 0."]))
    return out


def markdown(sections: list[Section], level: str = "##") -> list[str]:
    lines: list[str] = []
    for title, header, rows, notes in sections:
        lines += [f"{level} {title}", ""]
        lines += [f"> {n}" if n.startswith("**") else n for n in notes] + ([""] if notes else [])
        lines += markdown_table(header, rows) + [""]
    return lines


def seeds_markdown(summary: dict) -> list[str]:
    return markdown(seeds_tables(summary))
