"""report.md and a per-domain before/after figure, from what the run directory holds; and
report.html, the same run on one self-contained page (``veritune.report.html``).

    veritune report runs/quickstart
"""

from __future__ import annotations

from pathlib import Path

from veritune.config import load_config
from veritune.errors import InputError
from veritune.jsonl import atomic_write_text, read_json
from veritune.report.html import write_html_report
from veritune.report.seeds import guard_tables, markdown, seeds_markdown
from veritune.report.tables import markdown_table
from veritune.runs.store import load_manifest

NUMBER = (int, float)


def _load(path: Path, required: dict[str, type | tuple] | None = None) -> dict | None:
    """A JSON object from the run directory, None when missing; corrupt (bad JSON, a needed
    key missing or of the wrong type) is an InputError naming the file and the key."""
    if not path.exists():
        return None
    obj = read_json(path)
    for key, kind in (required or {}).items():
        if not isinstance(obj.get(key), kind) or isinstance(obj.get(key), bool):
            raise InputError("missing or of the wrong type", path=path, field=key)
    return obj


def _metrics(path: Path) -> dict | None:
    """An evaluation's metrics.json, checked for what the report reads."""
    m = _load(path, {"accuracy": NUMBER, "n": int, "per_domain": dict})
    for domain, d in (m or {}).get("per_domain", {}).items():
        if not (isinstance(d, dict) and isinstance(d.get("accuracy"), NUMBER)
                and isinstance(d.get("n"), int)):
            raise InputError("needs a numeric accuracy and n", path=path,
                             field=f"per_domain.{domain}")
    return m


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def domain_table(base: dict, tuned: dict | None) -> list[str]:
    rows = []
    domains = dict(base["per_domain"])
    domains["**all**"] = {"accuracy": base["accuracy"], "n": base["n"],
                          "best_of_n": base.get("best_of_n")}
    for d, b in domains.items():
        t = (tuned or {}).get("per_domain", {}).get(d) if d != "**all**" else tuned
        ta = t.get("accuracy") if t else None
        delta = f"{100 * (ta - b['accuracy']):+.1f}" if ta is not None else "–"
        rows.append([d, b["n"], _pct(b["accuracy"]), _pct(ta), delta, _pct(b.get("best_of_n")),
                     _pct(t.get("best_of_n") if t else None)])
    return markdown_table(["domain", "n", "base acc", "tuned acc", "Δ", "base best-of-n",
                           "tuned best-of-n"], rows, align="lrrrrrr")


def shape_table(base: dict, tuned: dict | None) -> list[str]:
    return markdown_table(["answers", "base", "tuned"],
                          [[key, base.get(key), (tuned or {}).get(key, "–")]
                           for key in ("not_attempted", "correct_given_attempted", "f_score",
                                       "mean_response_tokens", "truncated_rate",
                                       "repetition_rate") if key in base], align="lrr")


def plot_domains(base: dict, tuned: dict | None, path: Path, title: str) -> None:
    import matplotlib  # deferred: matplotlib is slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import

    domains = list(base["per_domain"])
    x = range(len(domains))
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(domains)), 4))
    width = 0.4
    ax.bar([i - width / 2 for i in x], [100 * base["per_domain"][d]["accuracy"] for d in domains],
           width, label="base")
    if tuned:
        ax.bar([i + width / 2 for i in x],
               [100 * tuned["per_domain"].get(d, {}).get("accuracy", 0) for d in domains],
               width, label="tuned")
    ax.set_xticks(list(x), domains, rotation=30, ha="right")
    ax.set_ylabel("greedy accuracy (%)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _judges(run_dir: Path) -> dict[str, str] | None:
    """Which judge scored what, from the run's config.yaml (None: no readable config)."""
    path = run_dir / "config.yaml"
    if not path.exists():
        return None
    try:
        return load_config(path).judges()
    except InputError:
        return None


def write_report(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    manifest = load_manifest(run_dir / "manifest.json")
    stages = manifest["stages"]
    lines = [f"# veritune run: {run_dir.name}", "",
             "All figures on one self-contained page: [report.html](report.html).", ""]
    seeds = _load(run_dir / "seeds_summary.json")
    if seeds:  # runs/<name>/ of ``--seeds``: the summary, then each seed's own report
        lines += seeds_markdown(seeds)
        lines += ["Each seed's run and report: " + ", ".join(
            f"[seed{s}](seed{s}/report.md)" for s in seeds.get("seeds", [])) + ".", ""]
    data = stages.get("data", {}).get("counts")
    if data:
        lines += ["## Data", "", ", ".join(f"{k}: {v}" for k, v in data.items()), ""]
    judges = _judges(run_dir)
    if judges:
        lines += ["## Judges", ""] + [f"- {k}: {v}" for k, v in judges.items()] + [""]
    if stages.get("judge", {}).get("counts"):
        lines += ["## Training samples (judge labels)", "",
                  ", ".join(f"{k}: {v}" for k, v in stages["judge"]["counts"].items()), ""]
    if stages.get("pairs", {}).get("counts"):
        lines += ["## Pairs", ""] + markdown_table(
            ["statistic", "value"], stages["pairs"]["counts"].items(), align="lr") + [""]
    if stages.get("train", {}).get("counts"):
        lines += ["## Training", "",
                  ", ".join(f"{k}: {v}" for k, v in stages["train"]["counts"].items()), ""]
    eval_dir = run_dir / "eval"
    splits = sorted(p.name for p in (eval_dir / "base").iterdir()) if (eval_dir / "base").is_dir() \
        else []
    for split in splits:
        base = _metrics(eval_dir / "base" / split / "metrics.json")
        tuned = _metrics(eval_dir / "tuned" / split / "metrics.json")
        if not base:
            continue
        lines += [f"## Evaluation: {split} split (greedy accuracy, %)", ""]
        lines += domain_table(base, tuned) + [""] + shape_table(base, tuned) + [""]
        cmp = _load(eval_dir / f"compare_{split}.json",
                    {"wrong_to_right": int, "right_to_wrong": int})
        if cmp:
            lines += [f"Flips: wrong→right {cmp['wrong_to_right']}, right→wrong "
                      f"{cmp['right_to_wrong']} (exact McNemar p = {cmp.get('mcnemar_p')}).", ""]
        fig = run_dir / "figures" / f"accuracy_per_domain_{split}.png"
        plot_domains(base, tuned, fig, f"Greedy accuracy per domain ({split})")
        lines += [f"![accuracy per domain]({fig.relative_to(run_dir)})", ""]
    guard = _load(eval_dir / "guard" / "compare.json")
    if guard:
        lines += markdown(guard_tables(guard))
    if stages:
        lines += ["## Timings (seconds)", ""] + markdown_table(
            ["stage", "seconds"], [(name, e.get("seconds", "–")) for name, e in stages.items()],
            align="lr") + [""]
    if manifest.get("versions"):
        lines += ["## Versions", "", ", ".join(f"{k} {v}" for k, v in manifest["versions"].items()),
                  ""]
    path = run_dir / "report.md"
    atomic_write_text(path, "\n".join(lines))
    write_html_report(run_dir)
    return path
