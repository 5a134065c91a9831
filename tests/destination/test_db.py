"""destination.db: the bulk-write plumbing, on SQLite (fallbacks) and PostgreSQL (unnest, ANY,
binary parameters)."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from destination.db import any_id, any_text, binary_cursor, insert_rows, insert_rows_returning
from destination.models import Guest, MatchKey, ResolutionKey, TimelineEvent, Visibility
from tests.factories import GuestFactory

pytestmark = pytest.mark.django_db


def test_insert_rows_writes_every_row_and_skips_conflicts():
    now = timezone.now()
    insert_rows(ResolutionKey, ["key", "created_at"], [("email:a@x.example", now)])
    insert_rows(
        ResolutionKey,
        ["key", "created_at"],
        [("email:a@x.example", now), ("email:b@x.example", now)],
    )
    assert sorted(ResolutionKey.objects.values_list("key", flat=True)) == [
        "email:a@x.example",
        "email:b@x.example",
    ]


def test_insert_rows_with_json_and_nothing_to_insert():
    guest = GuestFactory()
    now = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        insert_rows(TimelineEvent, ["guest_id", "occurred_at"], [])
    assert len(queries) == 0
    insert_rows(
        TimelineEvent,
        ["guest_id", "occurred_at", "kind", "visibility", "title", "body", "data", "created_at"],
        [(guest.pk, now, TimelineEvent.Kind.PROFILE, Visibility.SHARED, "T", "", {"a": [1]}, now)],
        ignore_conflicts=False,
    )
    assert TimelineEvent.objects.get(guest=guest).data == {"a": [1]}


def test_any_lookups_filter_like_in():
    a, b, _c = GuestFactory(), GuestFactory(), GuestFactory()
    MatchKey.objects.create(guest=a, key="k:1")
    MatchKey.objects.create(guest=b, key="k:2")
    assert set(Guest.objects.filter(any_id("id", [a.pk, b.pk]))) == {a, b}
    assert list(MatchKey.objects.filter(any_text("key", ["k:2"]))) == [
        MatchKey.objects.get(key="k:2")
    ]
    assert not Guest.objects.filter(any_id("id", [])).exists()


@pytest.mark.postgres
def test_on_postgresql_one_unnest_statement_with_binary_arrays():
    now = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        insert_rows(ResolutionKey, ["key", "created_at"], [(f"k:{i}", now) for i in range(500)])
    assert len(queries) == 1
    assert "unnest(" in queries[0]["sql"]
    assert ResolutionKey.objects.count() == 500
    with CaptureQueriesContext(connection) as queries:
        found = list(ResolutionKey.objects.filter(any_text("key", ["k:1", "k:2"])))
    assert len(found) == 2
    assert "= ANY(" in queries[0]["sql"]


@pytest.mark.postgres
def test_on_postgresql_insert_rows_returning_gives_the_new_ids():
    now = timezone.now()
    uuids = [uuid.uuid4(), uuid.uuid4()]
    fields = ["uuid", "first_name", "last_name", "name_folded", "language", "country",
              "source", "source_detail", "status", "created_at", "updated_at"]  # fmt: skip
    rows = [
        (u, "Jean", "Martin", "jean martin", "fr", "FR", Guest.Source.API, "", "active", now, now)
        for u in uuids
    ]
    back = dict(insert_rows_returning(Guest, fields, rows, returning=["uuid", "id"]))
    assert set(back) == set(uuids)
    assert set(Guest.objects.filter(uuid__in=uuids).values_list("pk", flat=True)) == set(
        back.values()
    )
    with binary_cursor() as cursor:
        cursor.execute("SELECT %b::bigint[]", [[1, 2, 3]])
        assert cursor.fetchone()[0] == [1, 2, 3]
