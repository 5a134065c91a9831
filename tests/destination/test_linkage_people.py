"""The labelled guest file itself: its names have real frequencies, and it is deterministic.

The figures of the linkage model are only as honest as this file: with a few dozen names per
country, two strangers share a name so often that "same name" means nothing, which no real base
looks like. These tests pin the shape the README's figures rely on.
"""

from __future__ import annotations

from collections import Counter

from tests.destination.data.linkage_people import (
    COUNTRY_WEIGHTS,
    HEAD_LAST_NAMES,
    TEST_SEED,
    build,
    name_lists,
)


def test_name_lists_are_long_tailed_like_real_ones():
    lists = name_lists()
    assert set(lists) == set(COUNTRY_WEIGHTS)
    for country, by_kind in lists.items():
        surnames = by_kind["last"]
        assert len(surnames.names) >= 2000, country
        assert len({n.casefold() for n in surnames.names}) == len(surnames.names), country
        # The commonest surname is about 1 % of a country's people, never a tenth of them.
        assert 0.005 < surnames.share_of_top() < 0.015, (country, surnames.share_of_top())
        # The hand-written head (the commonest names) keeps its place at the top.
        assert surnames.names[: len(HEAD_LAST_NAMES[country])] == tuple(HEAD_LAST_NAMES[country])
        for gender in "mf":
            firsts = by_kind[gender]
            assert len(firsts.names) >= 50, (country, gender)
            assert firsts.share_of_top() < 0.06, (country, gender)


def test_namesakes_are_drawn_among_common_names():
    import random

    surnames = name_lists()["FR"]["last"]
    rng = random.Random(1)
    rank = {name: i for i, name in enumerate(surnames.names)}
    anyone = sorted(rank[surnames.draw(rng)] for _ in range(2000))
    namesakes = sorted(rank[surnames.draw(rng, namesake=True)] for _ in range(2000))
    # p(name)^2: the median namesake's surname is far commoner than the median person's.
    assert namesakes[1000] * 10 < anyone[1000], (namesakes[1000], anyone[1000])


def test_the_file_is_deterministic_and_mostly_distinct_names():
    a, b = build(entities=1000), build(entities=1000)
    assert [r.as_dict() for r in a.records] == [r.as_dict() for r in b.records]
    originals: dict[int, tuple[str, str]] = {}
    for r in a.records:
        originals.setdefault(r.entity, (r.first_name, r.last_name))
    names = Counter(originals.values())
    shared = sum(n for n in names.values() if n > 1)
    hard = sum(len(p) for p in a.hard_pairs.values())
    assert hard > 0 and a.hard_pairs["homonym"]
    # Homonyms (by construction) and households aside, strangers rarely share a full name.
    assert shared < 0.2 * len(originals), (shared, len(originals))
    assert {r.kind for r in a.records} == {"single", "household", "twin", "homonym"}


def test_a_second_record_may_hold_what_the_first_did_not():
    """A desk asks what another did not: a duplicate adds a phone or the birth date its first
    record lacked (never one that contradicts it), as often as it drops one; the birth date
    added is the person's, the same on every record that adds it."""
    data = build(seed=TEST_SEED)
    by_entity: dict[int, list] = {}
    for record in data.records:
        by_entity.setdefault(record.entity, []).append(record)
    added = {"phone_add": 0, "birth_add": 0}
    dropped = {"phone_drop": 0, "birth_drop": 0}
    for records in by_entity.values():
        births = {r.birth_date for r in records if "birth_add" in r.perturbations}
        assert len(births) <= 1
        for r in records:
            for op in r.perturbations:
                if op in added:
                    added[op] += 1
                if op in dropped:
                    dropped[op] += 1
    assert added["phone_add"] > 20 and added["birth_add"] > 20, added
    # About as often as the drops, which only apply when the first record holds the field.
    assert 0.3 < added["phone_add"] / dropped["phone_drop"] < 3, (added, dropped)
    assert 0.3 < added["birth_add"] / dropped["birth_drop"] < 3, (added, dropped)
