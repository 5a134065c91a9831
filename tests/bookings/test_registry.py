"""Bookings plug into the shared core: merge, GDPR export and erasure."""

import pytest

from bookings.models import Booking, Participant, Payment
from bookings.services import ParticipantData
from destination.models import Guest
from destination.services.gdpr import guest_erase, guest_export
from destination.services.merge import guest_merge, guest_merge_undo
from tests.factories import book, person

pytestmark = pytest.mark.django_db


def _family_booking(session):
    return book(
        session,
        adults=1,
        children=1,
        participants=[
            ParticipantData("Camille1", "Martin"),
            ParticipantData("Léo", "Martin", True),
        ],
    )


def test_merge_moves_bookings_and_participations_and_undo_restores(session, on_site):
    first = _family_booking(session)
    other = book(session, booker=person(2, email="c.martin@work.example"), adults=1)
    survivor, merged = first.booker, other.booker
    assert survivor.pk != merged.pk
    merge = guest_merge(survivor=survivor, merged=merged, actor=None)
    other.refresh_from_db()
    assert other.booker_id == survivor.pk
    assert Booking.objects.filter(booker=survivor).count() == 2
    child = Participant.objects.get(first_name="Léo").guest
    child_booking = book(session, booker=person(3, email="x@y.example"), adults=1)
    guest_merge(survivor=child_booking.booker, merged=child, actor=None)
    assert Participant.objects.get(first_name="Léo").guest_id == child_booking.booker_id
    guest_merge_undo(merge=merge, actor=None)
    other.refresh_from_db()
    assert other.booker_id == merged.pk


def test_export_includes_bookings(session, on_site):
    booking = _family_booking(session)
    data = guest_export(guest=booking.booker, actor=None)
    assert [b["reference"] for b in data["bookings"]] == [booking.reference]
    row = data["bookings"][0]
    assert row["role"] == "booker" and row["contact_email"] == "camille.martin1@example.org"
    assert {p["first_name"] for p in row["participants"]} == {"Camille1", "Léo"}
    child = Participant.objects.get(first_name="Léo").guest
    child_rows = guest_export(guest=child, actor=None)["bookings"]
    assert child_rows[0]["role"] == "participant"
    assert [p["first_name"] for p in child_rows[0]["participants"]] == ["Léo"]


def test_erasure_keeps_accounting_strips_personal_data(session, on_site):
    booking = _family_booking(session)
    Payment.objects.create(
        booking=booking, kind="full", provider="on_site", status="succeeded", amount_cents=100
    )
    guest_erase(guest=booking.booker, actor=None, reason="GDPR request")
    booking.refresh_from_db()
    assert booking.contact_name == booking.contact_email == booking.contact_phone == ""
    assert booking.total_cents == 10000 and booking.status == Booking.Status.CONFIRMED
    assert booking.payments.get().amount_cents == 100
    me = booking.participants.get(guest=booking.booker)
    assert me.first_name == me.last_name == ""
    other = booking.participants.exclude(guest=booking.booker).get()
    assert other.first_name == "Léo"  # the child is another person, not erased
    assert Guest.objects.get(pk=booking.booker_id).status == Guest.Status.ERASED
