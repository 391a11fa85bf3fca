"""``veritune analyze shift`` and ``veritune analyze knn``: load the models, run the analysis
on each prompt set, write ``metrics.json`` (and per-token records, a plot)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from veritune.analysis.knn import mutual_knn, prompt_representations
from veritune.analysis.shift import shift_metrics, token_ranks
from veritune.engines.hf import HFEngine
from veritune.jsonl import atomic_write_json, write_records
from veritune.prompts import read_prompt_file

FIELDS = ("prompt", "question", "input")


def load_prompts(path: str | Path, template: str = "{prompt}",
                 limit: int | None = None) -> list[list[dict[str, str]]]:
    """A prompt set (JSONL with a prompt, question or input field, or text, one a line) as
    chat prompts of one user turn each; ``template`` wraps each text (``{prompt}``)."""
    texts = read_prompt_file(path, FIELDS)
    texts = texts[:limit] if limit else texts
    return [[{"role": "user", "content": template.replace("{prompt}", t)}] for t in texts]


def run_shift(base: str, tuned: str, prompt_sets: Mapping[str, str], out: str | Path, *,
              template: str = "{prompt}", limit: int | None = None, max_new_tokens: int = 128,
              top_k: int = 3, batch_size: int = 8, engines=None) -> dict:
    """Shift per prompt set and pooled; the pooled rates are the top-level keys."""
    out = Path(out)
    base_engine, tuned_engine = engines or (HFEngine(base), HFEngine(tuned))
    per_set, pooled = {}, []
    for name, path in prompt_sets.items():
        prompts = load_prompts(path, template, limit)
        records = token_ranks(base_engine, tuned_engine, prompts, max_new_tokens, batch_size)
        write_records(out / f"tokens_{name}.jsonl",
                      [{"prompt": p[-1]["content"], **r} for p, r in zip(prompts, records)])
        per_set[name] = shift_metrics(records, top_k)
        pooled += records
    metrics = {**shift_metrics(pooled, top_k), "base": base, "tuned": tuned, "sets": per_set}
    atomic_write_json(out / "metrics.json", metrics)
    plot_shift(per_set, out / "shift.png")
    return metrics


def plot_shift(per_set: Mapping[str, dict], path: Path) -> None:
    """Stacked bars per prompt set: unshifted, marginal (rank 2..k), beyond top-k."""
    import matplotlib  # deferred: matplotlib is slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import

    names = list(per_set)
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(names), 3.2))
    bottom = [0.0] * len(names)
    for key, label, color in (("unshifted_rate", "unshifted (top-1)", "#4c72b0"),
                              ("marginal_rate", "marginal (top-k)", "#dd8452"),
                              ("beyond_top_k_rate", "shifted beyond top-k", "#c44e52")):
        values = [100 * per_set[n][key] for n in names]
        ax.bar(names, values, bottom=bottom, label=label, color=color)
        bottom = [b + v for b, v in zip(bottom, values)]
    for i, n in enumerate(names):
        ax.text(i, 101, f"shifted {100 * per_set[n]['shifted_rate']:.1f}%", ha="center",
                fontsize=8)
    ax.set_ylabel("% of answer tokens")
    ax.set_ylim(0, 110)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_knn(model_a: str, model_b: str, prompts_path: str, out: str | Path, *, k: int = 10,
            template: str = "{prompt}", limit: int | None = None, batch_size: int = 16,
            engines=None) -> dict:
    out = Path(out)
    prompts = load_prompts(prompts_path, template, limit)
    a_engine, b_engine = engines or (HFEngine(model_a), HFEngine(model_b))
    a = prompt_representations(a_engine, prompts, batch_size)
    b = prompt_representations(b_engine, prompts, batch_size)
    metrics = {"mutual_knn": round(mutual_knn(a, b, k), 4), "k": k, "n_prompts": len(prompts),
               "model_a": model_a, "model_b": model_b, "prompts": str(prompts_path)}
    atomic_write_json(out / "metrics.json", metrics)
    return metrics
