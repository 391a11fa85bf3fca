"""Choices and ranges of config values, checked when the config loads, before any model does.

One table, ``RULES``: section class name -> key -> check. A check takes the value and returns
``None`` (fine) or the reason it is not; ``None`` values (an optional key left unset) are not
checked. ``CROSS`` holds the checks that involve two keys of a section. A new key with a range
or a set of choices gets one row here:

    RULES["TrainConfig"]["save_steps"] = at_least(1)

``validate(cfg, where)`` walks the loaded config (nested sections too: ``judge.model`` is checked
by the ``ModelConfig`` rules) and raises an :class:`InputError` naming the file, the line and
the dotted key. This module imports nothing from ``veritune.config`` (which imports it).
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Callable

from veritune.errors import InputError

Check = Callable[[Any], "str | None"]

# The names each choice accepts (tests check them against the registries they mirror).
JUDGE_NAMES = ("lexical", "llm", "ensemble")  # veritune.judge's registry
JUDGE_MODES = ("generate", "score")  # veritune.judge.llm.MODES
ENGINES = ("hf", "openai", "vllm")  # veritune.engines.ENGINES
DTYPES = ("auto", "float32", "bfloat16", "float16")
DATA_FORMATS = ("auto", "questions", "nq_open", "jsonl", "csv", "tsv")  # data.loaders.FORMATS
SPLITS = ("train", "validation", "test")  # records.SPLITS
TRAIN_METHODS = ("dpo", "sft", "sft+dpo", "sft-then-dpo")
# TRL's DPOTrainer loss types; the shared backend implements the first two
DPO_LOSS_TYPES = ("sigmoid", "ipo", "hinge", "exo_pair", "nca_pair", "robust", "bco_pair",
                  "sppo_hard", "aot", "aot_unpaired", "apo_zero", "apo_down", "discopop", "sft",
                  "sigmoid_norm")
# train.lr_scheduler, save_steps, select and report_to: config_train.check_train (transformers'
# own names, looked up in the installed release beyond the known ones)


# -- checks ---------------------------------------------------------------------------------------

def one_of(*choices: str) -> Check:
    return lambda v: None if v in choices else \
        f"must be one of {', '.join(choices)}, got {v!r}"


def each_of(*choices: str) -> Check:
    """A non-empty list whose items are all among ``choices``."""
    def check(v):
        if not v:
            return f"must not be empty (choose from {', '.join(choices)})"
        bad = [x for x in v if x not in choices]
        return f"unknown {bad[0]!r}; choose from {', '.join(choices)}" if bad else None
    return check


def _number(v) -> str | None:
    if isinstance(v, float) and not math.isfinite(v):
        return f"must be a finite number, got {v!r}"
    return None


def at_least(lo: float) -> Check:
    return lambda v: _number(v) or (None if v >= lo else f"must be at least {lo}, got {v!r}")


def above(lo: float) -> Check:
    return lambda v: _number(v) or (None if v > lo else f"must be greater than {lo}, got {v!r}")


def within(lo: float, hi: float, low_open: bool = False, high_open: bool = False) -> Check:
    """``lo <= v <= hi``, with either end open; the message shows the interval."""
    def check(v):
        ok = (v > lo if low_open else v >= lo) and (v < hi if high_open else v <= hi)
        interval = f"{'(' if low_open else '['}{lo}, {hi}{')' if high_open else ']'}"
        return _number(v) or (None if ok else f"must be in {interval}, got {v!r}")
    return check


def nonempty(v) -> str | None:
    return None if (v.strip() if isinstance(v, str) else v) else "must not be empty"


def matches(pattern: str, what: str) -> Check:
    return lambda v: None if re.fullmatch(pattern, v) else f"must be {what}, got {v!r}"


def has_placeholder(name: str) -> Check:
    """A template that must hold ``{name}`` (other braces are kept as written)."""
    return lambda v: None if "{" + name + "}" in v else \
        f"must contain {{{name}}} (where the {name} goes), got {v!r}"


positive = at_least(1)  # counts and sizes
probability = within(0.0, 1.0)
fraction = within(0.0, 1.0, low_open=True)  # (0, 1]

# -- the table -------------------------------------------------------------------------------------

RULES: dict[str, dict[str, Check]] = {
    "RunConfig": {"name": matches(r"(?!\.\.?$)[^/\\\x00]+", "a folder name (no slashes)"),
                  "runs_dir": nonempty, "seed": within(0, 2**32 - 1), "limit": positive,
                  "prompt": has_placeholder("question")},
    "ModelConfig": {"name": nonempty, "engine": one_of(*ENGINES), "dtype": one_of(*DTYPES),
                    "device": matches(r"[a-z]+(:\d+)?", "a torch device such as cpu, cuda, "
                                                         "cuda:1 or mps"),
                    "base_url": matches(r"https?://\S+", "an http(s) URL"),
                    "api_key_env": nonempty, "concurrency": positive, "timeout": above(0)},
    "DataConfig": {"source": nonempty, "format": one_of(*DATA_FORMATS),
                   "max_entities_per_domain": positive,
                   "test_fraction": within(0.0, 1.0, True, True),
                   "validation_fraction": within(0.0, 1.0, high_open=True),
                   "max_test_per_domain": positive},
    "SampleConfig": {"n": positive, "temperature": at_least(0), "top_p": fraction,
                     "top_k": at_least(0), "max_new_tokens": positive, "batch_size": positive,
                     "splits": each_of(*SPLITS)},
    "JudgeConfig": {"name": one_of(*JUDGE_NAMES), "max_new_tokens": positive,
                    "cache": nonempty, "mode": one_of(*JUDGE_MODES),
                    "threshold": within(0.0, 1.0, low_open=True, high_open=True),
                    "threshold_partial": within(0.0, 1.0, low_open=True, high_open=True),
                    "batch_size": positive},
    "PairsConfig": {"max_pairs_per_question": positive, "chosen": one_of("concise", "random"),
                    "chosen_source": one_of("self", "dataset"),
                    "rejected_source": one_of("self", "dataset"),
                    "sft_targets": one_of("all", "one"), "question_fraction": fraction},
    "LoraConfig": {"r": positive, "alpha": above(0), "dropout": within(0.0, 1.0, high_open=True),
                   "target_modules": nonempty},
    "TrainConfig": {"method": one_of(*TRAIN_METHODS), "beta": above(0),
                    "learning_rate": above(0), "sft_learning_rate": above(0),
                    "sft_weight": at_least(0), "loss_type": one_of(*DPO_LOSS_TYPES),
                    "epochs": above(0), "batch_size": positive,
                    "gradient_accumulation_steps": positive, "max_length": positive,
                    "warmup_ratio": within(0.0, 1.0, high_open=True), "logging_steps": positive,
                    "backend": one_of("trl", "shared")},
    "AnchorConfig": {"questions": nonempty, "limit": positive, "weight": at_least(0),
                     "max_new_tokens": positive, "batch_size": positive,
                     "backward": one_of("joint", "separate")},
    "EvalConfig": {"splits": each_of(*SPLITS), "limit": positive, "max_new_tokens": positive,
                   "batch_size": positive, "best_of_n": at_least(0),
                   "best_of_n_temperature": at_least(0), "repetition_ngram": positive,
                   "suite_limit": positive, "suite_batch_size": positive},
    "ApeftConfig": {"entities_per_domain": positive, "n": positive, "temperature": at_least(0),
                    "top_p": fraction, "max_new_tokens": positive, "batch_size": positive,
                    "extraction": one_of("sentences", "llm"), "gamma": at_least(0),
                    "min_gap": probability, "max_general_pairs_per_prompt": positive,
                    "probe_n": positive, "probe_temperature": at_least(0),
                    "probe_low": probability, "probe_high": probability,
                    "atomic_prompt": one_of("probe", "longform"), "atomic_ratio": above(0),
                    "shift_ood": nonempty, "shift_limit": positive,
                    "shift_max_new_tokens": positive},
    "BuildConfig": {"seed": within(0, 2**32 - 1), "min_views": at_least(0),
                    "min_chars": at_least(0), "lang": one_of("auto", "en", "zh"),
                    "questions_per_entry": within(1, 10), "retries": at_least(0),
                    "retry_temperature": at_least(0), "max_new_tokens": positive,
                    "batch_size": positive,
                    "classifier": matches(r"llm|[\w.]+:\w+", "llm or module:function"),
                    "min_domain_count": at_least(0), "quality_max_new_tokens": positive,
                    "quality_on_unparsed": one_of("drop", "keep"), "test_per_domain": at_least(0),
                    "test_max_fraction": probability},
}

# Checks across keys of one section: (section) -> (key, reason) or None
CROSS: dict[str, list[Callable[[Any], "tuple[str, str] | None"]]] = {
    "DataConfig": [lambda d: ("validation_fraction", "test_fraction + validation_fraction must "
                              "be below 1") if d.test_fraction + d.validation_fraction >= 1
                   else None],
    "TrainConfig": [lambda t: ("loss_type", f"train.backend: shared implements sigmoid and ipo, "
                               f"got {t.loss_type!r}; use train.backend: trl")
                    if t.backend == "shared" and t.loss_type not in ("sigmoid", "ipo")
                    else None,
                    lambda t: ("anchor", "the anchor term is computed by train.backend: shared "
                               "only; set it, or leave train.anchor out")
                    if t.anchor is not None and t.backend != "shared" else None,
                    lambda t: ("anchor", "the anchor term joins a preference loss; train.method "
                               "sft has none") if t.anchor is not None and t.method == "sft"
                    else None],
    "ApeftConfig": [lambda a: ("probe_high", f"must be above probe_low ({a.probe_low})")
                    if a.probe_high <= a.probe_low else None],
}


def validate(cfg: Any, where: Callable[[str], dict], prefix: str = "") -> None:
    """Apply ``RULES`` and ``CROSS`` to a loaded config and its sections; ``where(key)`` gives
    the ``path``/``line`` an error about ``key`` names."""
    section = type(cfg).__name__
    rules = RULES.get(section, {})
    for f in dataclasses.fields(cfg):
        key, value = prefix + f.name, getattr(cfg, f.name)
        if value is None:
            continue
        if dataclasses.is_dataclass(value):
            validate(value, where, key + ".")
        elif f.name in rules and (reason := rules[f.name](value)):
            raise InputError(reason, field=key, **where(key))
    for cross in CROSS.get(section, []):
        found = cross(cfg)
        if found:
            key = prefix + found[0]
            raise InputError(found[1], field=key, **where(key))
