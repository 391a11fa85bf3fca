"""report.html: the run on one self-contained page (figures inlined as base64 PNG, inline CSS,
no scripts, fonts or links to fetch), written next to report.md by ``veritune report``.

Every section reads only what the run directory holds and says "not available" when its
inputs are missing, so a half-finished run still renders.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections import Counter
from pathlib import Path

from veritune.jsonl import atomic_write_text, iter_json_lines, read_json
from veritune.report.seeds import guard_tables, seeds_tables
from veritune.runs.store import load_manifest

CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1em}th,td{border:1px solid #ccc;padding:3px 8px}
td.n{text-align:right}th{background:#f2f2f2}pre{background:#f7f7f7;padding:1em;overflow:auto}
p.na{color:#888;font-style:italic}p.fall{color:#b00;font-weight:bold}img{max-width:100%}h2{border-bottom:1px solid #ddd}"""
SHAPE = ("accuracy", "best_of_n", "not_attempted", "correct_given_attempted", "f_score",
         "mean_response_tokens", "truncated_rate", "repetition_rate", "n")
CURVES = (("loss", ("loss",)), ("reward margin", ("rewards/margins",)),
          ("rewards", ("rewards/chosen", "rewards/rejected")))


def _e(x) -> str:
    return html.escape(str(x))


def _jsonl(path: Path) -> list[dict]:
    """The objects of a JSONL file ([] when missing); a bad line is an InputError naming the
    file and line (``veritune.jsonl``'s one policy), never skipped."""
    return [obj for _, obj in iter_json_lines(path)] if path.exists() else []


def _load(path: Path) -> dict | None:
    """A JSON file's object, or None when it is missing; corrupt is an InputError."""
    return read_json(path) if path.exists() else None


def _fmt(x) -> str:
    if x is None:
        return "–"
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def _cell(c) -> str:
    cls = ' class="n"' if isinstance(c, (int, float)) else ""
    return f"<td{cls}>{_e(_fmt(c))}</td>"


def _table(header, rows) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _na(what: str) -> str:
    return f'<p class="na">{_e(what)} not available.</p>'


def _plt():
    import matplotlib  # deferred: matplotlib is slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import

    return plt


def _img(fig, alt: str) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    _plt().close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{_e(alt)}">'


def _evals(run_dir: Path) -> dict[str, tuple[dict, dict | None]]:
    """split -> (base metrics, tuned metrics or None), for splits the base model was scored on."""
    out = {}
    for path in sorted((run_dir / "eval" / "base").glob("*/metrics.json")):
        base = _load(path)
        if base:
            split = path.parent.name
            out[split] = (base, _load(run_dir / "eval" / "tuned" / split / "metrics.json"))
    return out


def _delta(b, t):
    num = (int, float)
    return round(t - b, 4) if isinstance(b, num) and isinstance(t, num) else None


def _main_split(evals: dict) -> str | None:
    return "test" if "test" in evals else (list(evals)[-1] if evals else None)


def section_headline(run_dir: Path, evals: dict) -> str:
    if not evals:
        return _na("Evaluation results")
    parts = []
    for split, (base, tuned) in evals.items():
        rows = []
        for key in (k for k in SHAPE if k in base):
            b, t = base.get(key), (tuned or {}).get(key)
            rows.append([key, b, t, _delta(b, t)])
        parts.append(f"<h3>{_e(split)} split</h3>"
                     + _table(["metric", "base", "tuned", "Δ"], rows))
        cmp = _load(run_dir / "eval" / f"compare_{split}.json")
        if cmp:
            parts.append(f"<p>Flips: wrong→right {_e(cmp.get('wrong_to_right'))}, right→wrong "
                         f"{_e(cmp.get('right_to_wrong'))}; exact McNemar p = "
                         f"{_e(cmp.get('mcnemar_p'))}.</p>")
        else:
            parts.append(_na("Paired comparison (flips, McNemar p)"))
    return "".join(parts)


def _suite_results(run_dir: Path) -> dict[str, dict[str, tuple[str, float]]]:
    """model label -> task -> (headline metric name, value)."""
    out: dict = {}
    for path in sorted((run_dir / "eval" / "suite").glob("*/*/metrics.json")):
        m = _load(path)
        if not m or "headline" not in m:
            continue
        values = m.get("metrics") if isinstance(m.get("metrics"), dict) else m
        value = values.get(m["headline"])
        if isinstance(value, (int, float)):
            out.setdefault(path.parent.parent.name, {})[m.get("task", path.parent.name)] = \
                (m["headline"], value)
    return dict(sorted(out.items(), key=lambda kv: (kv[0] not in ("base", "tuned"), kv[0])))


def fig_suite(results: dict) -> str:
    plt = _plt()
    tasks = sorted({t for per in results.values() for t in per})
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(tasks)), 4))
    width = 0.8 / len(results)
    for i, (label, per) in enumerate(results.items()):
        ax.bar([x + (i - (len(results) - 1) / 2) * width for x in range(len(tasks))],
               [per.get(t, ("", 0))[1] for t in tasks], width, label=label)
    ax.set_xticks(range(len(tasks)), tasks, rotation=30, ha="right")
    ax.set_ylabel("headline metric")
    ax.set_title("Suite results")
    ax.legend()
    return _img(fig, "suite results per task")


def section_suite(run_dir: Path) -> str:
    results = _suite_results(run_dir)
    if not results:
        return _na("Suite results")
    labels = list(results)
    tasks = sorted({t for per in results.values() for t in per})
    rows = []
    for task in tasks:
        vals = [results[lab].get(task, (None, None))[1] for lab in labels]
        name = next(results[lab][task][0] for lab in labels if task in results[lab])
        b, t = (results.get(lab, {}).get(task, (None, None))[1] for lab in ("base", "tuned"))
        rows.append([task, name] + vals + [_delta(b, t)])
    out = _table(["task", "headline"] + labels + ["Δ (tuned − base)"], rows) + fig_suite(results)
    summary = run_dir / "eval" / "suite" / "summary.csv"
    if summary.is_file():
        csv_rows = list(csv.reader(summary.read_text(encoding="utf-8").splitlines()))
        if csv_rows:
            out += "<h3>summary.csv</h3>" + _table(csv_rows[0], csv_rows[1:])
    return out


def _domains(base: dict, tuned: dict | None) -> list[str]:
    return list(dict.fromkeys([*base.get("per_domain", {}), *(tuned or {}).get("per_domain", {})]))


def fig_heatmap(split: str, base: dict, tuned: dict | None) -> str:
    plt = _plt()
    domains = _domains(base, tuned)
    models = [("base", base)] + ([("tuned", tuned)] if tuned else [])
    grid = [[100 * m.get("per_domain", {}).get(d, {}).get("accuracy", float("nan"))
             for d in domains] for _, m in models]
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(domains)), 1.2 + 0.8 * len(models)))
    im = ax.imshow(grid, cmap="YlGnBu", vmin=0, vmax=100, aspect="auto")
    for i, row in enumerate(grid):
        for j, v in enumerate(row):
            ax.text(j, i, f"{v:.1f}", ha="center", va="center",
                    color="white" if v >= 60 else "black")
    ax.set_xticks(range(len(domains)), domains, rotation=30, ha="right")
    ax.set_yticks(range(len(models)), [name for name, _ in models])
    ax.set_title(f"Greedy accuracy (%) per domain ({split})")
    fig.colorbar(im, ax=ax)
    return _img(fig, "per-domain accuracy heatmap")


def fig_bo1_bon(split: str, base: dict, tuned: dict | None) -> str:
    plt = _plt()
    domains = _domains(base, tuned)
    series = [(f"{name} {kind}", m, key) for name, m in (("base", base), ("tuned", tuned)) if m
              for kind, key in (("BO1", "accuracy"), ("BOn", "best_of_n"))]
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(domains)), 4))
    width = 0.8 / len(series)
    for i, (label, m, key) in enumerate(series):
        vals = [100 * (m.get("per_domain", {}).get(d, {}).get(key) or 0) for d in domains]
        ax.bar([x + (i - (len(series) - 1) / 2) * width for x in range(len(domains))], vals, width,
               label=label)
    ax.set_xticks(range(len(domains)), domains, rotation=30, ha="right")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"Greedy (BO1) vs best-of-n (BOn) per domain ({split})")
    ax.legend(fontsize="small")
    return _img(fig, "BO1 vs BOn per domain")


def section_domains(evals: dict, fig) -> str:
    split = _main_split(evals)
    if split is None or not evals[split][0].get("per_domain"):
        return _na("Per-domain results")
    return fig(split, *evals[split])


def section_pairs(run_dir: Path) -> str:
    pairs = [p for p in _jsonl(run_dir / "pairs.jsonl") if "chosen" in p and "rejected" in p]
    if not pairs:
        return _na("Preference pairs (pairs.jsonl)")

    def mean(key, unit):
        vals = [len(str(p[key]).split()) if unit == "words" else len(str(p[key])) for p in pairs]
        return round(sum(vals) / len(vals), 2)

    kinds = Counter(str(p.get("kind", "–")) for p in pairs)
    rows = [["pairs", len(pairs)],
            ["questions with pairs", len({p.get("question_id") for p in pairs})],
            ["mean chosen words", mean("chosen", "words")],
            ["mean rejected words", mean("rejected", "words")],
            ["mean chosen characters", mean("chosen", "chars")],
            ["mean rejected characters", mean("rejected", "chars")]]
    rows += [[f"pairs of kind {k}", v] for k, v in sorted(kinds.items())]
    return _table(["statistic", "value"], rows)


def section_training(run_dir: Path) -> str:
    rows = [r for r in _jsonl(run_dir / "train_log.jsonl")
            if isinstance(r.get("step"), (int, float))]
    # TRL's end-of-training summary row (train_runtime, run averages) is no point on a curve
    log = [r for r in rows if "train_runtime" not in r] or rows
    panels = [(title, keys) for title, keys in CURVES if any(k in r for r in log for k in keys)]
    if not panels:
        return _na("Training log (train_log.jsonl)")
    offsets, last = {}, 0  # phases (sft, then dpo) each count steps from 0: lay them end to end
    for r in log:
        phase = r.get("phase", "train")
        if phase not in offsets:
            offsets[phase] = last
        last = max(last, offsets[phase] + r["step"])
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for ax, (title, keys) in zip(axes[0], panels):
        for key in keys:
            for phase, off in offsets.items():
                pts = [(off + r["step"], r[key]) for r in log
                       if r.get("phase", "train") == phase and isinstance(r.get(key), (int, float))]
                if pts:
                    ax.plot(*zip(*pts), marker=".", label=f"{key} ({phase})")
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.legend(fontsize="small")
    return _img(fig, "training curves")


def section_config(run_dir: Path) -> str:
    cfg = run_dir / "config.yaml"
    out = (f"<h3>config.yaml</h3><pre>{_e(cfg.read_text(encoding='utf-8'))}</pre>"
           if cfg.is_file() else _na("config.yaml"))
    manifest = load_manifest(run_dir / "manifest.json")
    stages = manifest.get("stages") or {}
    if not stages:
        return out + _na("Manifest (stage timings)")
    rows = [[name, e.get("status", "–"), e.get("seconds"),
             ", ".join(f"{k}: {_fmt(v)}" for k, v in (e.get("counts") or {}).items())]
            for name, e in stages.items()]
    out += "<h3>Stages</h3>" + _table(["stage", "status", "seconds", "counts"], rows)
    versions = ", ".join(f"{k} {v}" for k, v in (manifest.get("versions") or {}).items())
    return out + (f"<p>Versions: {_e(versions)}</p>" if versions else "")


def fig_size_curve(curve: dict) -> str:
    """The data-size curve over seeds: mean gain and its 95% interval by share of questions."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for split, points in curve.items():
        xs = [100 * x["fraction"] for x in points]
        ys = [100 * x["change"] for x in points]
        err = [[100 * (x["change"] - x["low"]) for x in points],
               [100 * (x["high"] - x["change"]) for x in points]]
        ax.errorbar(xs, ys, yerr=err, marker="o", capsize=4, label=split)
    ax.axhline(0, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log", base=2)
    ax.set_xticks([100 * x["fraction"] for x in next(iter(curve.values()))])
    ax.set_xticklabels([f"{100 * x['fraction']:g}%" for x in next(iter(curve.values()))])
    ax.set_xlabel("share of the training questions")
    ax.set_ylabel("gain vs base (points)")
    ax.legend()
    return _img(fig, "data-size curve over seeds")


def section_stats(run_dir: Path) -> list[tuple[str, str]]:
    """Seeds summary (``runs/<name>/`` of ``--seeds``) and the run's guard, when present."""

    seeds = _load(run_dir / "seeds_summary.json")
    guard = _load(run_dir / "eval" / "guard" / "compare.json")
    tables = (seeds_tables(seeds) if seeds else []) + (guard_tables(guard) if guard else [])
    def note(n: str) -> str:
        cls = ' class="fall"' if "fall**" in n else ""
        return f"<p{cls}>{_e(n.replace('**', ''))}</p>"

    out = [(title, "".join(note(n) for n in notes) + _table(header, rows))
           for title, header, rows, notes in tables]
    if seeds and seeds.get("size_curve"):
        out.append(("Data-size curve over seeds", fig_size_curve(seeds["size_curve"])))
    return out


def write_html_report(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    evals = _evals(run_dir)
    sections = section_stats(run_dir) + [("Before / after", section_headline(run_dir, evals)),
                ("Suite results", section_suite(run_dir)),
                ("Per-domain accuracy", section_domains(evals, fig_heatmap)),
                ("Greedy (BO1) vs best-of-n (BOn)", section_domains(evals, fig_bo1_bon)),
                ("Preference pairs", section_pairs(run_dir)),
                ("Training curves", section_training(run_dir)),
                ("Config and stages", section_config(run_dir))]
    title = f"veritune run: {run_dir.name}"
    body = "".join(f"<section><h2>{_e(h)}</h2>{s}</section>" for h, s in sections)
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f"<style>{CSS}</style></head><body><h1>{_e(title)}</h1>{body}</body></html>\n")
    path = run_dir / "report.html"
    atomic_write_text(path, page)
    return path
