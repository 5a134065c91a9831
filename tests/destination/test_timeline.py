"""One writer for the timeline (single and bulk) and one for the last-contact clock."""

from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from destination.models import Guest, TimelineEvent
from destination.services.timeline import (
    TimelineItem,
    guest_contact_touch,
    timeline_add,
    timeline_add_many,
)
from tests.factories import GuestFactory, PartnerFactory
from tests.queries import assert_num_queries

pytestmark = pytest.mark.django_db


def test_timeline_add_many_writes_every_entry_in_one_insert():
    guests = GuestFactory.create_batch(3)
    partner = PartnerFactory()
    at = timezone.now()
    items = [
        TimelineItem(
            guest_id=g.pk,
            kind=TimelineEvent.Kind.BOOKING,
            occurred_at=at,
            title="x" * 300,
            partner_id=partner.pk,
            data={"n": i},
            source=partner,
        )
        for i, g in enumerate(guests)
    ]
    # One content type lookup (cached after the first use) and one INSERT.
    ContentType.objects.clear_cache()
    with assert_num_queries(2):
        timeline_add_many(items=items)
    rows = list(TimelineEvent.objects.order_by("pk"))
    assert [r.guest_id for r in rows] == [g.pk for g in guests]
    assert {len(r.title) for r in rows} == {200}
    assert [r.data for r in rows] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert {r.object_id for r in rows} == {partner.pk}


def test_timeline_add_many_with_nothing_writes_nothing():
    with assert_num_queries(0):
        assert timeline_add_many(items=[]) == []


def test_timeline_add_one():
    guest = GuestFactory()
    entry = timeline_add(
        guest=guest, kind=TimelineEvent.Kind.PROFILE, occurred_at=timezone.now(), title="Hello"
    )
    assert entry.guest == guest
    assert entry.content_type is None


def test_contact_touch_moves_the_clock_forward_only():
    now = timezone.now()
    recent = GuestFactory(last_contact_at=now)
    old = GuestFactory(last_contact_at=now - timedelta(days=400))
    never = GuestFactory(last_contact_at=None)
    moved = guest_contact_touch(
        guest_ids=[recent.pk, old.pk, never.pk, old.pk], at=now - timedelta(days=1)
    )
    assert moved == 2
    by_id = dict(Guest.objects.values_list("pk", "last_contact_at"))
    assert by_id[recent.pk] == now
    assert by_id[old.pk] == now - timedelta(days=1)
    assert by_id[never.pk] == now - timedelta(days=1)


def test_contact_touch_with_no_guests_runs_no_query():
    with assert_num_queries(0):
        assert guest_contact_touch(guest_ids=[], at=timezone.now()) == 0
