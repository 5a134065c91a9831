"""Guest search: exact email and phone, fuzzy names (trigram on PostgreSQL, fallback on SQLite)."""

from __future__ import annotations

import pytest

from destination.models import Guest
from destination.selectors import guest_search, guest_search_by_name
from destination.services.resolution import PersonData, guest_resolve_many
from tests.queries import assert_max_num_queries, capture_queries

pytestmark = pytest.mark.django_db


@pytest.fixture
def people() -> dict[str, Guest]:
    data = {
        "jean": PersonData(
            first_name="Jean", last_name="Martin", email="jean@martin.example", phone="+33612345678"
        ),
        "jeanne": PersonData(
            first_name="Jeanne", last_name="Martin", email="jeanne@martin.example"
        ),
        "zoe": PersonData(
            first_name="Zoë", last_name="Lefèvre", email="zoe@lefevre.example", phone="+41791234567"
        ),
        "hans": PersonData(first_name="Hans", last_name="Müller", email="hans@mueller.example"),
        "paul": PersonData(first_name="Paul", last_name="Bernard", email="paul@bernard.example"),
    }
    results = guest_resolve_many(list(data.values()), source=Guest.Source.DESK)
    return {key: r.guest for key, r in zip(data, results, strict=True)}


def names(guests: list[Guest]) -> list[str]:
    return [g.full_name for g in guests]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Jean Martin", "Jean Martin"),
        ("martin jean", "Jean Martin"),
        ("Jean Martni", "Jean Martin"),
        ("zoe lefevre", "Zoë Lefèvre"),
        ("ZOË LEFEBVRE", "Zoë Lefèvre"),
        ("hans muller", "Hans Müller"),
    ],
)
def test_name_search_is_fuzzy_and_best_first(people, query, expected):
    found = guest_search_by_name(query)
    assert found, query
    assert found[0].full_name == expected


def test_name_search_excludes_inactive_guests_and_unrelated_names(people):
    Guest.objects.filter(pk=people["jeanne"].pk).update(status=Guest.Status.ERASED)
    found = names(guest_search_by_name("Jeanne Martin"))
    assert "Jeanne Martin" not in found
    assert "Paul Bernard" not in found
    assert guest_search_by_name("   ") == []
    assert guest_search_by_name("Xavier Quintana") == []


def test_name_search_is_one_query_whatever_the_number_of_results(people):
    # On PostgreSQL the threshold is set in the same transaction (savepoint + set_config).
    with assert_max_num_queries(4):
        found = guest_search_by_name("martin")
    assert {"Jean Martin", "Jeanne Martin"} <= set(names(found))


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("  JEAN@Martin.example ", "jean"),
        ("06 12 34 56 78", "jean"),
        ("+33 (0)6 12 34 56 78", "jean"),
        ("0041 79 123 45 67", "zoe"),
        ("Müller", "hans"),
    ],
)
def test_search_detects_email_phone_or_name(people, query, key):
    found = guest_search(query)
    assert found[0] == people[key]


def test_search_returns_nothing_for_unknown_or_invalid_contacts(people):
    assert guest_search("nobody@example.com") == []
    assert guest_search("bad@") == []
    assert guest_search("06 00") == []
    assert guest_search("") == []


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("jeanne@mart", "jeanne"),  # an address being typed
        ("ZOE@LEF", "zoe"),
        ("06 12 34 56", "jean"),  # a national number being typed
        ("+33 6 12 34", "jean"),
        ("+33 (0)6 12 34", "jean"),
        ("0041 79 123", "zoe"),
    ],
)
def test_search_as_you_type_finds_addresses_and_numbers_by_their_start(people, typed, key):
    assert guest_search(typed) == [people[key]]


def test_the_start_of_an_address_comes_before_names(people):
    guest_resolve_many(
        [PersonData(first_name="Ana", last_name="Silva", email="j.martin99@mail.example")],
        source=Guest.Source.DESK,
    )
    assert names(guest_search("j.martin"))[0] == "Ana Silva"
    # Too short a start is not searched as a prefix: "06 12 3" is five digits.
    assert guest_search("06 12 3") == []
    assert guest_search("j@") == []


def test_phone_prefix_reads_the_national_and_international_starts():
    from destination.selectors import phone_prefix

    assert phone_prefix("06 12 34") == "+3361234"
    assert phone_prefix("0033 6 12 3") == "+336123"
    assert phone_prefix("+41 79 12") == "+417912"
    assert phone_prefix("6 12 34 56") == ""  # no leading 0 or +: not read
    assert phone_prefix("06 1") == ""


def test_shared_email_lists_every_active_holder(people):
    guest_resolve_many(
        [PersonData(first_name="Lucie", last_name="Martin", email="jean@martin.example")],
        source=Guest.Source.DESK,
    )
    found = guest_search("jean@martin.example")
    assert [g.first_name for g in found] == ["Jean", "Lucie"]


@pytest.mark.postgres
def test_trigram_search_uses_the_index_operator(people):
    from django.db import connection

    with capture_queries() as ctx:
        found = guest_search_by_name("jean martin")
    sql = " ".join(ctx.statements)
    assert "set_config" in sql
    assert "%" in sql and "SIMILARITY" in sql.upper()
    assert names(found)[:2] == ["Jean Martin", "Jeanne Martin"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'guest_name_folded_trgm'")
        assert "gin_trgm_ops" in cursor.fetchone()[0]
