"""Retention: guests with no real contact for the period and no active consent are anonymised."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from destination.models import AuditEntry, Guest, Purpose
from destination.services.consent import consent_record
from destination.services.gdpr import RETENTION_REASON, guests_erase_inactive, guests_inactive
from destination.services.guests import guest_update
from destination.services.merge import guest_merge
from destination.tasks import guest_retention_sweep_task
from tests.factories import ConsentWordingFactory, GuestFactory
from tests.queries import assert_num_queries

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
DAYS = 365
CUTOFF = NOW - dt.timedelta(days=DAYS)
SECOND = dt.timedelta(seconds=1)


def guest(*, created: dt.datetime, contact: dt.datetime | None = None) -> Guest:
    g = GuestFactory(last_contact_at=contact)
    Guest.objects.filter(pk=g.pk).update(created_at=created)
    return g


def status(g: Guest) -> str:
    return Guest.objects.get(pk=g.pk).status


def newsletter(g: Guest, *, granted: bool, when: dt.datetime) -> None:
    consent_record(
        guest=g,
        purpose=Purpose.NEWSLETTER,
        granted=granted,
        method="form",
        channels=["email"],
        wording=ConsentWordingFactory() if granted else None,
        occurred_at=when,
    )


def test_the_period_boundary_on_last_contact():
    just_over = guest(created=CUTOFF - dt.timedelta(days=900), contact=CUTOFF - SECOND)
    just_under = guest(created=CUTOFF - dt.timedelta(days=900), contact=CUTOFF + SECOND)
    assert guests_erase_inactive(now=NOW, days=DAYS) == 1
    assert status(just_over) == Guest.Status.ERASED
    assert status(just_under) == Guest.Status.ACTIVE


def test_guests_never_contacted_count_from_their_creation():
    old = guest(created=CUTOFF - SECOND)
    recent = guest(created=CUTOFF + SECOND)
    assert guests_erase_inactive(now=NOW, days=DAYS) == 1
    assert status(old) == Guest.Status.ERASED
    assert status(recent) == Guest.Status.ACTIVE


def test_a_profile_update_is_not_a_contact():
    """Edits (and email opens, which never touch last_contact_at) do not keep a guest."""
    g = guest(created=CUTOFF - dt.timedelta(days=10), contact=CUTOFF - dt.timedelta(days=5))
    guest_update(guest=g, data={"first_name": "Updated"}, actor=None, partner=None)
    g.refresh_from_db()
    assert g.updated_at > CUTOFF
    assert guests_erase_inactive(now=NOW, days=DAYS) == 1
    assert status(g) == Guest.Status.ERASED


def test_an_active_consent_keeps_the_guest_a_withdrawn_one_does_not():
    consenting = guest(created=CUTOFF - dt.timedelta(days=100))
    newsletter(consenting, granted=True, when=CUTOFF - dt.timedelta(days=90))
    withdrawn = guest(created=CUTOFF - dt.timedelta(days=100))
    newsletter(withdrawn, granted=True, when=CUTOFF - dt.timedelta(days=90))
    newsletter(withdrawn, granted=False, when=CUTOFF - dt.timedelta(days=80))
    assert guests_erase_inactive(now=NOW, days=DAYS) == 1
    assert status(consenting) == Guest.Status.ACTIVE
    assert status(withdrawn) == Guest.Status.ERASED


def test_the_sweep_is_idempotent_and_audited():
    gone = [guest(created=CUTOFF - dt.timedelta(days=n + 1)) for n in range(3)]
    assert guests_erase_inactive(now=NOW, days=DAYS) == 3
    assert guests_erase_inactive(now=NOW, days=DAYS) == 0
    entries = AuditEntry.objects.filter(action=AuditEntry.Action.ERASE)
    assert entries.count() == 3
    assert {e.details["reason"] for e in entries} == {RETENTION_REASON}
    assert {e.actor_id for e in entries} == {None}
    assert {e.guest_id for e in entries} == {g.pk for g in gone}


def test_merged_and_erased_guests_are_not_selected_again():
    survivor = guest(created=NOW - dt.timedelta(days=1), contact=NOW)
    merged = guest(created=CUTOFF - dt.timedelta(days=50))
    guest_merge(survivor=survivor, merged=merged, actor=None)
    assert not guests_inactive(now=NOW, days=DAYS).exists()
    assert guests_erase_inactive(now=NOW, days=DAYS) == 0
    assert status(merged) == Guest.Status.MERGED


def test_one_selection_query_whatever_the_number_of_guests():
    for n in range(4):
        guest(created=CUTOFF - dt.timedelta(days=n + 1))
    with assert_num_queries(1):
        ids = list(guests_inactive(now=NOW, days=DAYS).values_list("pk", flat=True))
    assert len(ids) == 4


@override_settings(GUEST_RETENTION_DAYS=30)
def test_the_task_runs_the_sweep_with_the_configured_period():
    now = timezone.now()
    old = guest(created=now - dt.timedelta(days=31))
    young = guest(created=now - dt.timedelta(days=29))
    # Called in process here; tests/destination/test_celery_worker.py sends it to a worker.
    assert guest_retention_sweep_task() == 1
    assert status(old) == Guest.Status.ERASED
    assert status(young) == Guest.Status.ACTIVE
    assert guest_retention_sweep_task() == 0
    assert guest_retention_sweep_task.name == "destination.tasks.guest_retention_sweep_task"
