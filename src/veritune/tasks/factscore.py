"""FActScore-style long-form factuality on knowledge-base entities (APEFT's long-form task).

The model answers "Tell me about X." greedily; its sentences are grounded against X's kb
facts (capital, continent, currency; symbol, atomic number; state capital) by the pipeline's
judge; the headline is the mean precision (supported / decided facts) over answers with at
least one decided fact. ``coverage`` (answers with a decided fact) and the mean number of
supported and contradicted facts are reported beside it: a model that says less scores on
fewer answers.

Data: ``kb`` (default; the test split of the pipeline's default entity split) or a Question
JSONL (its test split's kb entities).
"""

from __future__ import annotations

from pathlib import Path

from veritune.atomic.facts import extract_facts
from veritune.atomic.factscore import answer_score
from veritune.atomic.longform import longform_prompt
from veritune.data import kb_questions
from veritune.data.kb import kb_entity_names
from veritune.engines import SamplingParams
from veritune.judge import LexicalJudge
from veritune.tasks import precise_qa
from veritune.tasks.base import Task, seeded_subset
from veritune.tasks.generation import mean

NAME = "factscore"
HEADLINE = "factscore"
DEFAULT_LIMIT = 100
MAX_NEW_TOKENS = 160


def default_data() -> Path:
    return Path("kb")


def load(path, limit=None, seed=0) -> list[dict]:

    questions = precise_qa.load(path, None, seed)  # the test split, all of it
    by_entity: dict[str, list[str]] = {}
    for q in questions:
        if q.source == "kb":
            by_entity.setdefault(q.entity, []).append(q.id)
    items = [{"entity": e, "question_ids": ids} for e, ids in sorted(by_entity.items())]
    return seeded_subset(items, limit, seed)


def evaluate(engine, items, *, seed=0, batch_size=16, judge=None) -> tuple[dict, list[dict]]:

    kb = kb_questions(seed=0)
    by_id = {q.id: q for q in kb}
    judge = judge or LexicalJudge.for_questions(kb)
    names = kb_entity_names()
    params = SamplingParams(n=1, temperature=0.0, max_new_tokens=MAX_NEW_TOKENS, seed=seed)
    examples = []
    for start in range(0, len(items), batch_size):
        chunk = items[start:start + batch_size]
        prompts = [longform_prompt(it["entity"], names.get(it["entity"], it["entity"]))
                   for it in chunk]
        rows = engine.generate([[{"role": "user", "content": p}] for p in prompts], params)
        for it, prompt, row in zip(chunk, prompts, rows):
            answer = {"id": it["entity"], "entity": it["entity"], "text": row[0].text}
            facts = extract_facts(answer, [by_id[i] for i in it["question_ids"]], judge)
            examples.append({"entity": it["entity"], "prompt": prompt, "response": row[0].text,
                             "n_tokens": row[0].n_tokens, "truncated": row[0].truncated,
                             **answer_score(facts),
                             "facts": [{"text": f.text, "relation": f.relation,
                                        "label": f.label} for f in facts if f.relation]})
    scored = [e["score"] for e in examples if e["score"] is not None]
    metrics = {"factscore": round(mean(scored), 4) if scored else 0.0,
               "coverage": round(len(scored) / len(examples), 4) if examples else 0.0,
               "mean_supported": round(mean([e["supported"] for e in examples]), 3),
               "mean_contradicted": round(mean([e["contradicted"] for e in examples]), 3),
               "mean_response_tokens": round(mean([e["n_tokens"] for e in examples]), 2),
               "n": len(examples)}
    return metrics, examples


TASK = Task(name=NAME, headline=HEADLINE, default_limit=DEFAULT_LIMIT, default_data=default_data,
            load=load, evaluate=evaluate, judged="if_model")
