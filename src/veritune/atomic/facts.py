"""Atomic facts: sentences, LLM decomposition (any engine), and the knowledge-grounded path.

The knowledge-grounded path (offline default) checks each sentence of an answer about a kb
entity against that entity's kb questions: a sentence that speaks of a relation (a cue such as
"capital" or "atomic number") and that the judge decides is a fact about it, ``supported``
when it states the kb answer and ``contradicted`` when it states a rival value. Sentences the
judge cannot decide are ``unverifiable`` and leave the score alone, as FActScore's
"not in the knowledge source" would count against an answer only with full coverage.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

from veritune.engines import SamplingParams
from veritune.judge.normalize import split_sentences
from veritune.records import Question

RELATION_CUES = {
    "country_capital": r"\bcapital\b",
    "state_capital": r"\bcapital\b",
    "country_continent": r"\bcontinent\b|\b(europe|asia|africa|north america|south america|"
                         r"oceania|antarctica|european|asian|african)\b",
    "country_currency": r"\bcurrenc",
    "element_symbol": r"\bsymbol\b",
    "element_number": r"\batomic number\b",
}


@dataclass
class AtomicFact:
    answer_id: str
    index: int
    text: str
    entity: str
    relation: str = ""  # the kb relation it states ("" when none matched)
    question_id: str = ""  # the kb question of that relation and entity
    label: str = "unverifiable"  # supported | contradicted | unverifiable

    def to_dict(self) -> dict:
        return asdict(self)


DECOMPOSE_PROMPT = """Break the sentence into independent atomic facts: short statements that
each say one thing and make sense alone (name the subject, no "it" or "he").
Write one fact per line, each line starting with "- ", and nothing else.

Sentence: {sentence}"""

DECOMPOSE_EXAMPLE = ("Marie Curie, born in Warsaw in 1867, won two Nobel Prizes.",
                     "- Marie Curie was born in Warsaw.\n- Marie Curie was born in 1867.\n"
                     "- Marie Curie won two Nobel Prizes.")


def decompose_prompt(sentence: str) -> list[dict[str, str]]:
    ex_sentence, ex_facts = DECOMPOSE_EXAMPLE
    return [{"role": "user", "content": DECOMPOSE_PROMPT.format(sentence=ex_sentence)},
            {"role": "assistant", "content": ex_facts},
            {"role": "user", "content": DECOMPOSE_PROMPT.format(sentence=sentence)}]


def parse_facts(output: str) -> list[str] | None:
    """The "- fact" lines of a decomposition, each once (case aside); None when any non-empty
    line is not one (the caller then keeps the sentence itself as one fact: nothing is
    guessed)."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    if not lines or not all(line.startswith("- ") and len(line) > 3 for line in lines):
        return None
    facts = {}
    for line in lines:
        facts.setdefault(line[2:].strip().casefold(), line[2:].strip())
    return list(facts.values())


def decompose(engine, sentences: Sequence[str], batch_size: int = 16,
              max_new_tokens: int = 128) -> list[list[str]]:
    """Atomic facts of each sentence by the engine (greedy); an unparsable reply keeps the
    sentence whole."""
    params = SamplingParams(n=1, temperature=0.0, max_new_tokens=max_new_tokens)
    out: list[list[str]] = []
    for start in range(0, len(sentences), batch_size):
        chunk = sentences[start:start + batch_size]
        rows = engine.generate([decompose_prompt(s) for s in chunk], params)
        out += [parse_facts(r[0].text) or [s] for s, r in zip(chunk, rows)]
    return out


def ground_fact(text: str, questions: Iterable[Question], judge) -> tuple[str, str, str]:
    """(relation, question id, label) of one fact against its entity's kb questions."""
    low = text.casefold()
    for q in questions:
        cue = RELATION_CUES.get(q.domain)
        if not cue or not re.search(cue, low):
            continue
        j = judge.judge(q, text)
        if j.decisive and j.label in ("correct", "incorrect"):
            return q.domain, q.id, "supported" if j.label == "correct" else "contradicted"
    return "", "", "unverifiable"


def extract_facts(answer: dict, questions: Sequence[Question], judge,
                  units: Sequence[str] | None = None) -> list[AtomicFact]:
    """The atomic facts of one long answer, grounded against ``questions`` (its entity's kb
    questions). ``units`` are the facts from an LLM decomposition; None: the sentences."""
    units = list(units) if units is not None else split_sentences(answer["text"])
    facts = []
    for i, text in enumerate(units):
        relation, qid, label = ground_fact(text, questions, judge)
        facts.append(AtomicFact(answer["id"], i, text, answer["entity"], relation, qid, label))
    return facts
