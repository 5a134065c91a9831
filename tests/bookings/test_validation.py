"""Bad input gets a clear, field-level error and changes nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bookings.models import Booking, BookingEvent, Session
from bookings.services import BookingError, ConsentChoice, ParticipantData, booking_session_get
from destination.models import ConsentEvent, ConsentWording, Guest, Purpose, TimelineEvent
from tests.factories import book, offer_make, person, session_make

pytestmark = pytest.mark.django_db


def _nothing_changed(session: Session) -> None:
    session.refresh_from_db()
    assert session.seats_taken == 0
    assert not Booking.objects.exists()
    assert not BookingEvent.objects.exists()
    assert not Guest.objects.exists()
    assert not TimelineEvent.objects.exists()
    assert not ConsentEvent.objects.exists()


def _refused(session, field, **kwargs) -> BookingError:
    with pytest.raises(BookingError) as exc:
        book(session, **kwargs)
    assert field in exc.value.message_dict, exc.value.message_dict
    _nothing_changed(session)
    return exc.value


def test_past_session(offer, on_site):
    session = session_make(offer)
    Session.objects.filter(pk=session.pk).update(
        starts_at=timezone.now() - timedelta(hours=1), ends_at=timezone.now() + timedelta(hours=1)
    )
    error = _refused(session, "session")
    assert "already started" in error.message_dict["session"][0]


def test_party_larger_than_seats_left(offer, on_site):
    session = session_make(offer, capacity=3)
    error = _refused(session, "__all__", adults=4)
    assert error.message_dict["__all__"] == ["Sorry, only 3 places are left on this session."]


def test_full_session(offer, on_site):
    session = session_make(offer, capacity=2)
    book(session, adults=2)
    with pytest.raises(BookingError) as exc:
        book(session, adults=1, booker=person(2))
    assert exc.value.message_dict["__all__"] == ["Sorry, this session is fully booked."]


@pytest.mark.parametrize(
    ("adults", "children", "field"),
    [(-1, 0, "adults"), (1, -2, "children"), (0, 0, "adults"), ("2", 0, "adults"),
     (True, 0, "adults"), (None, 0, "adults")],
)  # fmt: skip
def test_bad_counts(session, on_site, adults, children, field):
    _refused(session, field, adults=adults, children=children)


def test_zero_units(ski_school, on_site):
    offer = offer_make(ski_school, kind="stay", pricing="per_unit", price_cents=9000)
    session = session_make(offer, hours=48)
    _refused(session, "units", units=0)
    _refused(session, "units", units=-1)


def test_unpublished_offer(ski_school, on_site):
    session = session_make(offer_make(ski_school, is_published=False))
    _refused(session, "session")


def test_unknown_offer_or_session(session, on_site):
    with pytest.raises(BookingError) as exc:
        booking_session_get(offer_slug="no-such-offer", session_id=session.pk)
    assert "session" in exc.value.message_dict
    with pytest.raises(BookingError):
        booking_session_get(offer_slug=session.offer.slug, session_id="999999")
    with pytest.raises(BookingError):
        booking_session_get(offer_slug=session.offer.slug, session_id="1; drop")
    assert booking_session_get(offer_slug=session.offer.slug, session_id=str(session.pk)) == session


def test_tampered_amount(session, on_site):
    error = _refused(session, "__all__", adults=2, expected_total_cents=100)
    assert "100.00" in error.message_dict["__all__"][0]
    book(session, adults=2, expected_total_cents=10000)  # the right amount passes


def test_missing_participant_names(ski_school, on_site):
    session = session_make(offer_make(ski_school, needs_participant_names=True))
    _refused(session, "participants", adults=2, participants=[ParticipantData("Ana", "Lopez")])
    _refused(
        session, "participants", adults=2,
        participants=[ParticipantData("Ana", "Lopez"), ParticipantData("", "Lopez")],
    )  # fmt: skip
    _refused(
        session, "participants", adults=1, children=1,
        participants=[ParticipantData("Ana", "Lopez"), ParticipantData("Tom", "Lopez")],
    )  # fmt: skip


def test_bad_booker(session, on_site):
    _refused(session, "email", booker=person(email="not-an-email"))


def test_bad_method_channel_and_consent(session, on_site):
    _refused(session, "payment_method", payment_method="bitcoin")
    _refused(session, "channel", channel="fax")
    newsletter = ConsentWording.objects.create(
        purpose=Purpose.NEWSLETTER, language="en", version="t1", text="The newsletter."
    )
    _refused(session, "consents", consents=[ConsentChoice("spam", newsletter, True)])
    _refused(session, "consents", consents=[ConsentChoice("newsletter", None, True)])
    # A wording of another purpose, or one never saved, is not the text shown for this box.
    _refused(session, "consents", consents=[ConsentChoice("partner_offers", newsletter, True)])
    unsaved = ConsentWording(purpose=Purpose.NEWSLETTER, language="en", text="Made up.")
    _refused(session, "consents", consents=[ConsentChoice("newsletter", unsaved, True)])
    assert ConsentWording.objects.count() == 1
