"""FactualBench-style question sets from encyclopedia entries (``veritune build``).

Six steps, as in the PKUE paper: (1) keep popular entries, (2) keep descriptions of a useful
length, (3) generate precise questions with a standard answer and 3 wrong answers, (4) sort
them into domains, (5) drop low-quality ones (rules, then an LLM check without the
description), (6) split by entry with a similar test size per domain. veritune adds a round
trip to step 5 (``roundtrip_check``): each question is asked back with its description and
kept only when the answer matches its standard answer, a filter that does not depend on the
writer's judgement of its own questions (a small writer keeps nearly all of them).

The build folder holds ``entries.jsonl`` (steps 1-2), ``generated.jsonl``,
``roundtrip.jsonl``, ``domains.jsonl`` and ``quality.jsonl`` (the LLM steps, resumable
caches), then ``questions.jsonl`` (Question records, ready for ``veritune run``),
``dropped.jsonl`` (every dropped question and why) and
``summary.json``.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Callable, Sequence

from veritune.engines import engine_from_config
from veritune.judge.lexical import LexicalJudge
from veritune.jsonl import atomic_write_json, iter_json_lines, write_records
from veritune.questionset import steps
from veritune.questionset.config import OTHERS, BuildConfig
from veritune.questionset.entries import filter_entries, read_entries
from veritune.questionset.rules import question_key, rule_problem
from veritune.questionset.split import split_by_entry
from veritune.records import Question

STEP1 = ("read", "views_below_threshold", "duplicate_entry")
STEP2 = ("description_too_short", "no_sentence_end_before_max_chars", "too_short_after_cut")


def _dropped(candidate: dict, reason: str, reasoning: str, **extra) -> dict:
    """The dropped.jsonl record of a candidate a later step turned down."""
    return {**{f: candidate[f] for f in ("question", "answer", "wrong_answers", "entry_id")},
            "reason": reason, **extra, "reasoning": reasoning}


def excluded_keys(paths: Sequence[str | Path]) -> set[str]:
    """Question keys of earlier builds (their questions.jsonl), to de-duplicate across runs."""
    keys: set[str] = set()
    for path in paths:
        for _, obj in iter_json_lines(path):
            if isinstance(obj, dict) and isinstance(obj.get("question"), str):
                keys.add(question_key(obj["question"]))
    return keys


def build_dataset(entries_path: str, out_dir: str | Path, cfg: BuildConfig,
                  limit: int | None = None, dry_run: bool = False,
                  exclude: Sequence[str | Path] = (), engine=None,
                  log: Callable[[str], None] = print) -> dict:
    """Run (or resume) the build into ``out_dir``; returns the summary (also written)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    seconds: dict[str, float] = {}
    counts: dict[str, int] = {}
    entries = list(filter_entries(read_entries(entries_path), cfg.min_views, cfg.min_chars,
                                  cfg.max_chars, cfg.lang, counts))
    if limit is not None:
        counts["over_limit"] = max(0, len(entries) - limit)
        entries = entries[:limit]
    write_records(out / "entries.jsonl", entries)
    seconds["filter"] = round(time.perf_counter() - start, 1)
    summary: dict = {"entries": entries_path, "model": cfg.model.name,
                     "steps": {"1_entries": {k: counts.get(k, 0) for k in STEP1},
                               "2_descriptions": {**{k: counts.get(k, 0) for k in STEP2},
                                                  "over_limit": counts.get("over_limit", 0),
                                                  "kept": len(entries)}}}
    holder: dict = {"engine": engine}

    def engine_for():
        if holder["engine"] is None:
            holder["engine"] = engine_from_config(cfg.model)
        return holder["engine"]

    if dry_run:  # steps 1-2 exactly; the LLM steps' work, without asking the engine
        per_question = 2 + cfg.roundtrip_check
        done = steps.generation_cache(out, cfg).records
        todo = sum(e.id not in done for e in entries)
        summary["dry_run"] = {
            "entries_generated_already": len(entries) - todo, "entries_to_generate": todo,
            "engine_calls_at_least": todo * (1 + per_question * cfg.questions_per_entry),
            "engine_calls_at_most": todo * (cfg.retries + 1)
            * (1 + per_question * cfg.questions_per_entry)}
        return summary

    stats: dict[str, dict] = {"generate": {}, "roundtrip": {}, "classify": {}, "quality": {}}
    t = time.perf_counter()
    gen = steps.generate(entries, out, cfg, engine_for, stats["generate"])
    seconds["generate"] = round(time.perf_counter() - t, 1)
    records = [gen.records[e.id] for e in entries]
    malformed = Counter(err for r in records if r["status"] != "ok" for err in r["errors"][-1:])
    stats["generate"].update(
        entries=len(records), ok=sum(r["status"] == "ok" for r in records),
        malformed_after_retries=sum(r["status"] != "ok" for r in records),
        last_error_of_malformed=dict(malformed),
        retried=sum(r["calls"] > 1 for r in records),
        questions=sum(len(r["questions"]) for r in records),
        engine_calls=sum(r["calls"] for r in records))

    # step 5, rules first: they are free and save the LLM steps' calls
    by_entry = {e.id: e for e in entries}
    earlier = excluded_keys(exclude)
    seen = set(earlier)
    candidates: dict[str, dict] = {}
    dropped: list[dict] = []
    for r in records:
        e = by_entry[r["entry_id"]]
        for item in r["questions"]:
            problem = rule_problem(item, seen, e.description
                                   if cfg.subject_answers == "drop" else None)
            if problem == "duplicate_question" and question_key(item["question"]) in earlier:
                problem = "in_earlier_build"
            if problem:
                dropped.append({**item, "entry_id": e.id, "reason": problem})
                continue
            candidates[question_key(item["question"])] = {
                **item, "entry_id": e.id, "title": e.title, "lang": e.lang,
                "description": e.description}
    rules = Counter(d["reason"] for d in dropped)

    t = time.perf_counter()
    roundtrip: Counter = Counter()
    if cfg.roundtrip_check:
        answers = steps.roundtrip(candidates, out, cfg, engine_for, stats["roundtrip"])
        judge = LexicalJudge()
        for k, c in list(candidates.items()):
            j = judge.judge(Question(id=k, question=c["question"], answers=[c["answer"]],
                                     wrong_answers=c["wrong_answers"], lang=c["lang"]),
                            answers[k])
            roundtrip[j.label] += 1
            if j.label != "correct":
                dropped.append(_dropped(c, f"roundtrip:{j.label}", j.rationale,
                                        roundtrip_answer=answers[k]))
                del candidates[k]
    seconds["roundtrip"] = round(time.perf_counter() - t, 1)

    t = time.perf_counter()
    domains = steps.classify(candidates, out, cfg, engine_for, stats["classify"])
    seconds["classify"] = round(time.perf_counter() - t, 1)

    t = time.perf_counter()
    verdicts = ({k: {"verdict": "keep", "reasoning": ""} for k in candidates}
                if not cfg.quality_check
                else steps.check_quality(candidates, out, cfg, engine_for, stats["quality"]))
    seconds["quality"] = round(time.perf_counter() - t, 1)
    quality = Counter(v["verdict"] for v in verdicts.values())
    keep_verdicts = {"keep"} | ({"unparsed"} if cfg.quality_on_unparsed == "keep" else set())

    kept: list[Question] = []
    for k, c in candidates.items():
        v = verdicts[k]
        if v["verdict"] not in keep_verdicts:
            dropped.append(_dropped(c, f"quality:{v['verdict']}", v["reasoning"]))
            continue
        kept.append(Question(id=f"fb-{k}", question=c["question"], answers=[c["answer"]],
                             wrong_answers=c["wrong_answers"], domain=domains[k],
                             entity=c["entry_id"], lang=c["lang"], source=f"build:{cfg.name}"))

    # step 4 (end): fold small domains into others; step 6: split by entry
    sizes = Counter(q.domain for q in kept)
    folded = sorted(d for d, n in sizes.items() if d != OTHERS and n < cfg.min_domain_count)
    for q in kept:
        if q.domain in folded:
            q.domain = OTHERS
    final = split_by_entry(kept, cfg.test_per_domain, cfg.test_max_fraction, cfg.seed)
    write_records(out / "questions.jsonl", final)
    write_records(out / "dropped.jsonl", dropped)

    per_domain: dict[str, dict[str, int]] = {}
    for q in final:
        per_domain.setdefault(q.domain, {"train": 0, "test": 0})[q.split] += 1
    summary["steps"].update({
        "3_generate": stats["generate"],
        "4_classify": {**stats["classify"], "before_folding": dict(sizes),
                       "folded_into_others": folded},
        "5_quality": {"candidates_in": stats["generate"]["questions"],
                      "rules_dropped": dict(rules), "roundtrip_verdicts": dict(roundtrip),
                      **{f"roundtrip_{k}": v for k, v in stats["roundtrip"].items()},
                      "llm_verdicts": dict(quality),
                      "kept": len(kept), "unparsed_kept": cfg.quality_on_unparsed == "keep",
                      **{f"llm_{k}": v for k, v in stats["quality"].items()}},
        "6_split": {"train": sum(q.split == "train" for q in final),
                    "test": sum(q.split == "test" for q in final),
                    "test_entries": len({q.entity for q in final if q.split == "test"})},
    })
    engine_calls = {s: stats[s].get("engine_calls", 0) for s in ("generate", "roundtrip",
                                                                   "classify", "quality")}
    engine_calls["total"] = sum(engine_calls.values())
    engine_calls["this_run"] = sum(s.get("calls_this_run", 0) for s in stats.values())
    summary.update(domains=per_domain, engine_calls=engine_calls,
                   seconds={**seconds, "total": round(time.perf_counter() - start, 1)},
                   questions=len(final))
    atomic_write_json(out / "summary.json", summary)
    return summary

