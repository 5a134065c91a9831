"""Booking emails flow through the outbox into the one pipeline: a message per email, rendered
from the branded layout, sent after commit in no transaction, written on the timeline once."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocMemBackend
from django.db import connection
from django.test import override_settings

from bookings import balances, services
from bookings.links import booking_from_signed_token
from bookings.models import Booking, BookingEvent
from destination.models import TimelineEvent
from newsletters.booking_emails import CONSUMER, booking_when
from newsletters.models import Message, OutboxCursor
from newsletters.outbox import booking_events_consume
from newsletters.services import message_send, suppression_add
from tests.factories import PartnerFactory, book, offer_make, person, session_make

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")


class InTransactionRefusingBackend(LocMemBackend):
    """Records whether a transaction was open at each send, and refuses to send in one."""

    seen: list[bool] = []

    def send_messages(self, messages):
        InTransactionRefusingBackend.seen.append(connection.in_atomic_block)
        if connection.in_atomic_block:
            raise RuntimeError("SMTP inside a transaction")
        return super().send_messages(messages)


@pytest.fixture
def session(settings):
    settings.STRIPE_SECRET_KEY = ""  # pay on site
    return session_make(offer_make(PartnerFactory(name="École de Ski Test")))


def _manage_token(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def test_booking_when_writes_a_date_once_in_the_guests_language():
    starts = datetime(2026, 12, 8, 9, 0, tzinfo=PARIS)
    ends = datetime(2026, 12, 8, 11, 30, tzinfo=PARIS)
    assert booking_when(starts, ends, language="en") == "Tue 8 Dec 2026, 9:00-11:30"
    assert booking_when(starts, ends, language="fr") == "mar 8 décembre 2026, 9:00-11:30"
    week = booking_when(
        datetime(2026, 12, 12, 17, 0, tzinfo=PARIS),
        datetime(2026, 12, 19, 10, 0, tzinfo=PARIS),
        language="en",
    )
    assert week == "Sat 12 Dec 2026, 17:00 - Sat 19 Dec 2026, 10:00"


def test_confirmation_is_a_transactional_message_from_the_branded_layout(
    session, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(session, language="en", booker=person(language="en"))
    message = Message.objects.get()
    assert message.source == Message.Source.BOOKING
    assert message.kind == Message.Kind.TRANSACTIONAL
    assert message.dedupe_key == f"booking:{booking.reference}:confirmation"
    assert message.template == "booking_confirmation"
    assert (message.guest_id, message.address) == (booking.booker_id, booking.contact_email)
    assert message.status == Message.Status.SENT
    [email] = mail.outbox
    html = email.alternatives[0].content
    assert "<mj-" not in html and "<table" in html  # compiled MJML, the branded layout
    assert f"Your booking {booking.reference} is confirmed: Group ski lesson" == email.subject
    when = booking_when(session.starts_at, session.ends_at, language="en")
    assert f"When: {when}" in email.body and "a.m." not in email.body
    assert when in html
    # The manage link works: its token names this booking.
    manage_url = message.context["manage_url"]
    assert manage_url in email.body and manage_url in html
    assert booking_from_signed_token(_manage_token(manage_url)) == booking
    booking.refresh_from_db()
    assert booking.confirmation_sent_at is not None


def test_confirmation_in_french_writes_the_date_in_french(
    session, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(session)
    [email] = mail.outbox
    assert "confirmée" in email.subject
    assert booking_when(session.starts_at, session.ends_at, language="fr") in email.body
    assert "Quand" in email.body and booking.reference in email.body


def test_a_replayed_outbox_sends_nothing_twice(session, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        book(session)
    OutboxCursor.objects.filter(consumer=CONSUMER).update(last_event_id=0)
    with django_capture_on_commit_callbacks(execute=True):
        assert booking_events_consume(consumer=CONSUMER) == 2
    assert Message.objects.count() == 1 and len(mail.outbox) == 1
    assert TimelineEvent.objects.filter(kind=TimelineEvent.Kind.MESSAGE).count() == 1


def test_a_cancelled_booking_gets_no_confirmation(session, django_capture_on_commit_callbacks):
    booking = book(session)  # its events are not consumed yet
    Booking.objects.filter(pk=booking.pk).update(status=Booking.Status.CANCELLED)
    with django_capture_on_commit_callbacks(execute=True):
        booking_events_consume(consumer=CONSUMER)
    assert not Message.objects.exists() and mail.outbox == []


def test_a_suppressed_address_is_skipped_and_leaves_no_timeline_entry(
    session, django_capture_on_commit_callbacks
):
    suppression_add(address="camille.martin1@example.org", reason="bounce")
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(session)
    message = Message.objects.get()
    assert message.status == Message.Status.SKIPPED and mail.outbox == []
    assert not TimelineEvent.objects.filter(kind=TimelineEvent.Kind.MESSAGE).exists()
    booking.refresh_from_db()
    assert booking.confirmation_sent_at is None


def test_desk_payment_link_is_an_outbox_event_and_a_message_each_time(
    session, monkeypatch, django_capture_on_commit_callbacks
):
    booking = book(session)
    OutboxCursor.objects.update_or_create(
        consumer=CONSUMER, defaults={"last_event_id": BookingEvent.objects.latest("pk").pk}
    )
    monkeypatch.setattr(services, "payment_provider", lambda: "stripe")
    monkeypatch.setattr(balances, "booking_balance_link", lambda *, booking: "https://pay.test/1")
    with django_capture_on_commit_callbacks(execute=True):
        assert balances.desk_payment_link_send(booking=booking, by=None) == "https://pay.test/1"
        balances.desk_payment_link_send(booking=booking, by=None)
    events = BookingEvent.objects.filter(booking=booking, kind="payment_link_issued")
    assert [e.data["url"] for e in events] == ["https://pay.test/1"] * 2
    messages = Message.objects.filter(template="booking_payment_link").order_by("pk")
    assert [m.dedupe_key for m in messages] == [
        f"booking:{booking.reference}:payment_link:{e.pk}" for e in events
    ]
    assert len(mail.outbox) == 2
    assert "https://pay.test/1" in mail.outbox[0].body
    assert 'href="https://pay.test/1"' in mail.outbox[0].alternatives[0].content
    entries = TimelineEvent.objects.filter(kind=TimelineEvent.Kind.MESSAGE)
    assert [e.data["email"] for e in entries] == ["payment_link", "payment_link"]


def test_a_balance_request_without_a_payment_link_names_the_partner(
    session, django_capture_on_commit_callbacks
):
    booking = book(session, booker=person(language="en"), language="en")
    OutboxCursor.objects.update_or_create(
        consumer=CONSUMER, defaults={"last_event_id": BookingEvent.objects.latest("pk").pk}
    )
    Booking.objects.filter(pk=booking.pk).update(balance_due_on=session.starts_at.date())
    with django_capture_on_commit_callbacks(execute=True):
        balances._balance_mail(booking.pk, reminder=False, now=session.starts_at)
    message = Message.objects.get()
    assert message.template == "booking_balance_request_offline"
    assert message.dedupe_key == f"booking:{booking.reference}:balance_request"
    [email] = mail.outbox
    assert "Please contact École de Ski Test to pay it." in email.body
    assert email.subject == f"Balance of your booking {booking.reference}"


@pytest.mark.django_db(transaction=True)
@override_settings(
    EMAIL_BACKEND="tests.newsletters.test_booking_emails.InTransactionRefusingBackend"
)
def test_smtp_never_runs_inside_a_transaction(session):
    """A real commit (no test transaction around it): the booking commits, the consumer's
    task runs on that commit, the message's send task on the consumer's commit; the backend
    refuses to send while any transaction (and so any booking or guest row lock) is open."""
    InTransactionRefusingBackend.seen = []
    booking = book(session)
    assert not connection.in_atomic_block
    message = Message.objects.get(dedupe_key=f"booking:{booking.reference}:confirmation")
    assert message.status == Message.Status.SENT, message.error
    assert InTransactionRefusingBackend.seen == [False]
    assert message_send(message_id=message.pk) == Message.Status.SENT  # nothing more
    assert InTransactionRefusingBackend.seen == [False]
