"""Write ``names.json``: the per-country first names and surnames of ``linkage_people``.

The labelled set's head of each list is its own hand-written list (the commonest names of each
country, in that order); this script appends the names Faker's person providers hold for the
country's locales (MIT licence), in Faker's order, without repeats. Run it once when the lists
should grow, and commit the JSON: the labelled set must not change when Faker does.

    .venv/bin/python -m tests.destination.data.names_from_faker
"""

from __future__ import annotations

import json
from pathlib import Path

LOCALES = {
    "FR": ["fr_FR"],
    "BE": ["nl_BE", "fr_BE"],
    "DE": ["de_DE"],
    "GB": ["en_GB"],
    "IT": ["it_IT"],
    "ES": ["es_ES"],
    "NL": ["nl_NL"],
    "CH": ["de_CH", "fr_CH"],
    "DK": ["da_DK"],
    "PL": ["pl_PL"],
    "PT": ["pt_PT"],
}
OUT = Path(__file__).with_name("names.json")


def _merge(head: list[str], more: list[list[str]]) -> list[str]:
    out = list(head)
    seen = {n.casefold() for n in out}
    # Interleave the locales so a bilingual country's list is not one language then the other.
    for group in zip(*more, strict=False):
        for name in group:
            if name.casefold() not in seen and name.replace(" ", "").replace("-", "").isalpha():
                seen.add(name.casefold())
                out.append(name)
    for names in more:
        for name in names:
            if name.casefold() not in seen and name.replace(" ", "").replace("-", "").isalpha():
                seen.add(name.casefold())
                out.append(name)
    return out


def main() -> None:
    import faker  # a dev dependency, only for this script

    from tests.destination.data.linkage_people import HEAD_FIRST_NAMES, HEAD_LAST_NAMES

    data: dict[str, dict[str, list[str]]] = {}
    for country, locales in LOCALES.items():
        providers = [faker.Faker(loc).provider("faker.providers.person") for loc in locales]
        lasts = [
            list(getattr(p, "male_last_names", None) or getattr(p, "last_names", ()))
            for p in providers
        ]
        data[country] = {
            "m": _merge(
                HEAD_FIRST_NAMES[country]["m"], [list(p.first_names_male) for p in providers]
            ),
            "f": _merge(
                HEAD_FIRST_NAMES[country]["f"], [list(p.first_names_female) for p in providers]
            ),
            "last": _merge(HEAD_LAST_NAMES[country], lasts),
        }
    OUT.write_text(
        json.dumps({"faker": faker.VERSION, "names": data}, ensure_ascii=False, indent=0) + "\n",
        encoding="utf-8",
    )
    for country, lists in data.items():
        print(country, {k: len(v) for k, v in lists.items()})


if __name__ == "__main__":
    main()
