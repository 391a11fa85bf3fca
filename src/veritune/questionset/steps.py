"""The LLM steps of the build (generation, round trip, classification, quality), each over a
cache file.

Every LLM step writes one record per item into its own JSONL file in the build folder, keyed
by the item's content hash and the step's settings hash. A killed build resumes from these
records; a re-run with more entries asks the engine only about the new ones; changing one
step's settings (its prompt version, model or limits) re-runs that step alone.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

from veritune.errors import InputError
from veritune.jsonl import RecordWriter, iter_json_lines, repair_tail
from veritune.progress import progress
from veritune.questionset.config import OTHERS, BuildConfig
from veritune.questionset.entries import Entry
from veritune.questionset.parse import ParseError, parse_domain, parse_quality, parse_questions
from veritune.questionset.templates import (PROMPT_VERSION, classification_prompt,
                                            generation_prompt, quality_prompt,
                                            roundtrip_prompt)
from veritune.runs.keys import config_hash


class StepCache:
    """Records of one step: ``key -> record`` for the current settings hash."""

    def __init__(self, path: Path, settings: dict):
        self.path, self.hash = path, config_hash(settings)
        self.records: dict[str, dict] = {}
        if path.exists():
            repair_tail(path)
            for _, rec in iter_json_lines(path):
                if rec.get("hash") == self.hash:
                    self.records[rec["key"]] = rec

    def todo(self, keys: Iterable[str]) -> list[str]:
        return [k for k in dict.fromkeys(keys) if k not in self.records]

    def add(self, writer: RecordWriter, key: str, record: dict) -> None:
        record = {"key": key, "hash": self.hash, **record}
        writer.write(record)
        self.records[key] = record


def _ask(engine, prompts: Sequence[list], parse: Callable[[str], object], cfg: BuildConfig,
         max_new_tokens: int, batch_index: int) -> list[dict]:
    """Greedy first; each output that fails ``parse`` is asked again, sampled, up to
    ``cfg.retries`` times. One dict per prompt: value (None when never parsed), calls,
    errors (the reason of each failed attempt) and the last raw output."""
    results = [{"value": None, "calls": 0, "errors": [], "raw": ""} for _ in prompts]
    pending = list(range(len(prompts)))
    for attempt in range(cfg.retries + 1):
        if not pending:
            break
        params = cfg.attempt_params(attempt, max_new_tokens)
        outputs = engine.generate([prompts[i] for i in pending], params,
                                  batch_index=batch_index * 100 + attempt)
        still = []
        for i, row in zip(pending, outputs):
            raw = row[0].text
            results[i]["calls"] += 1
            results[i]["raw"] = raw
            try:
                results[i]["value"] = parse(raw)
            except ParseError as e:
                results[i]["errors"].append(e.reason)
                still.append(i)
        pending = still
    return results


def _run(step: str, cache: StepCache, items: dict[str, object], make_prompt, parse,
         to_record, engine_for: Callable[[], object], cfg: BuildConfig, max_new_tokens: int,
         stats: dict) -> None:
    """Ask the engine about every item not in ``cache``, in batches, appending records."""
    todo = cache.todo(items)
    stats["cached"] = len(items) - len(todo)
    stats["calls_this_run"] = 0
    if not todo:
        return
    engine = engine_for()
    if hasattr(engine, "share_prefix"):  # a step's prompts share their instructions and
        engine.share_prefix = True  # worked examples: run them once (a new prefix a step)
    start = time.perf_counter()
    with RecordWriter(cache.path) as writer, progress(len(todo), step, "item") as bar:
        for b in range(0, len(todo), cfg.batch_size):
            keys = todo[b:b + cfg.batch_size]
            results = _ask(engine, [make_prompt(items[k]) for k in keys], parse, cfg,
                           max_new_tokens, batch_index=b // cfg.batch_size)
            for k, r in zip(keys, results):
                cache.add(writer, k, {**to_record(items[k], r["value"]), "calls": r["calls"],
                                      "errors": r["errors"], "raw": r["raw"]})
                stats["calls_this_run"] += r["calls"]
            writer.flush()
            bar.update(len(keys))
    stats["seconds_this_run"] = round(time.perf_counter() - start, 1)


def generation_cache(out: Path, cfg: BuildConfig) -> StepCache:
    return StepCache(out / "generated.jsonl",
                     {"model": cfg.model.name, "prompt": PROMPT_VERSION,
                      "n": cfg.questions_per_entry, "retries": cfg.retries,
                      "retry_temperature": cfg.retry_temperature, "seed": cfg.seed,
                      "max_new_tokens": cfg.max_new_tokens})


def generate(entries: Sequence[Entry], out: Path, cfg: BuildConfig, engine_for,
             stats: dict) -> StepCache:
    """Step 3: up to ``questions_per_entry`` questions per entry, each with 3 wrong answers."""
    cache = generation_cache(out, cfg)
    items = {e.id: e for e in entries}
    _run("generate", cache, items,
         lambda e: generation_prompt(e.description, e.lang, cfg.questions_per_entry),
         lambda raw: parse_questions(raw, cfg.questions_per_entry),
         lambda e, qs: {"entry_id": e.id, "status": "ok" if qs is not None else "malformed",
                        "questions": qs or []},
         engine_for, cfg, cfg.max_new_tokens, stats)
    return cache


def _answer_text(raw: str) -> str:
    text = raw.strip()
    if not text:
        raise ParseError("empty")
    return text


def roundtrip(candidates: dict[str, dict], out: Path, cfg: BuildConfig, engine_for,
              stats: dict) -> dict[str, str]:
    """Step 5a': question id -> the model's answer to the question read with the description
    it was written from (greedy; an empty reply asked again). Whether that answer matches the
    standard answer is the caller's judgement, so a better judge needs no new engine calls."""
    cache = StepCache(out / "roundtrip.jsonl",
                      {"model": cfg.model.name, "prompt": PROMPT_VERSION, "retries": cfg.retries,
                       "seed": cfg.seed, "max_new_tokens": cfg.roundtrip_max_new_tokens})
    _run("roundtrip", cache, candidates,
         lambda c: roundtrip_prompt(c["description"], c["question"], c["lang"]), _answer_text,
         lambda c, a: {"answer": a or ""}, engine_for, cfg, cfg.roundtrip_max_new_tokens,
         stats)
    stats["engine_calls"] = sum(cache.records[k]["calls"] for k in candidates)
    return {k: cache.records[k]["answer"] for k in candidates}


def user_classifier(spec: str) -> Callable[..., str]:
    """``module:function`` -> the function (called with question=, answer=, title=)."""
    module, _, name = spec.partition(":")
    if not module or not name:
        raise InputError(f"expected 'llm' or 'module:function', got {spec!r}",
                         field="classifier")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        raise InputError(f"cannot load {spec!r}: {e}", field="classifier") from None


def classify(candidates: dict[str, dict], out: Path, cfg: BuildConfig, engine_for,
             stats: dict) -> dict[str, str]:
    """Step 4: question id -> domain (one of ``cfg.domains``, or ``others``). ``stats`` gets
    cached, calls_this_run, engine_calls (for these candidates, cached or not), unparsed."""
    allowed = cfg.domains + [OTHERS]
    if cfg.classifier != "llm":
        fn = user_classifier(cfg.classifier)
        out_domains = {}
        for k, c in candidates.items():
            d = fn(question=c["question"], answer=c["answer"], title=c["title"])
            if d not in allowed:
                raise InputError(f"classifier returned {d!r}, not one of the configured "
                                 f"domains or {OTHERS!r}", field="classifier")
            out_domains[k] = d
        stats.update(cached=0, calls_this_run=0, engine_calls=0, unparsed=0)
        return out_domains
    cache = StepCache(out / "domains.jsonl",
                      {"model": cfg.model.name, "prompt": PROMPT_VERSION, "domains": allowed,
                       "retries": cfg.retries, "seed": cfg.seed})
    _run("classify", cache, candidates,
         lambda c: classification_prompt(c["question"], c["answer"], c["lang"], allowed),
         lambda raw: parse_domain(raw, allowed),
         lambda c, d: {"domain": d or OTHERS, "status": "ok" if d else "unparsed"},
         engine_for, cfg, 24, stats)
    stats["unparsed"] = sum(cache.records[k]["status"] != "ok" for k in candidates)
    stats["engine_calls"] = sum(cache.records[k]["calls"] for k in candidates)
    return {k: cache.records[k]["domain"] for k in candidates}


def check_quality(candidates: dict[str, dict], out: Path, cfg: BuildConfig, engine_for,
                  stats: dict) -> dict[str, dict]:
    """Step 5 (LLM part): question id -> {verdict, reasoning}; verdict "keep", a low-quality
    type, or "unparsed". ``stats`` as for :func:`classify`."""
    cache = StepCache(out / "quality.jsonl",
                      {"model": cfg.model.name, "prompt": PROMPT_VERSION, "parser": 2,
                       "retries": cfg.retries, "seed": cfg.seed,
                       "max_new_tokens": cfg.quality_max_new_tokens})
    _run("quality", cache, candidates,
         lambda c: quality_prompt(c["question"], c["answer"], c["lang"]), parse_quality,
         lambda c, v: {"verdict": v[0] if v else "unparsed", "reasoning": v[1] if v else ""},
         engine_for, cfg, cfg.quality_max_new_tokens, stats)
    stats["engine_calls"] = sum(cache.records[k]["calls"] for k in candidates)
    return {k: cache.records[k] for k in candidates}
