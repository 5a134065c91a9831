"""Card payments through Stripe with an injected fake HTTP client: no network, ever."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bookings.balances import booking_balance_link, booking_balance_links_close
from bookings.models import Booking, Payment
from bookings.payments import OnSiteProvider, PaymentProviderError, provider_get
from bookings.services import (
    BookingError,
    booking_cancel,
    booking_checkout_url,
    booking_payment_on_site_record,
    booking_refund_issue,
)
from bookings.stripe_events import stripe_checkout_completed
from tests.factories import book, offer_make, session_make

pytestmark = pytest.mark.django_db

URLS = {"success_url": "https://example.org/ok", "cancel_url": "https://example.org/ko"}


def _card(session):
    return book(session, payment_method=Booking.PaymentMethod.CARD)


def test_on_site_is_default_without_keys(on_site):
    assert isinstance(provider_get(), OnSiteProvider)
    with pytest.raises(PaymentProviderError):
        provider_get().checkout_create()


def test_card_refused_without_keys(session, on_site):
    with pytest.raises(BookingError) as exc:
        _card(session)
    assert "payment_method" in exc.value.message_dict
    assert not Booking.objects.exists()


def test_checkout_session_created_with_idempotency_key(session, fake_stripe):
    booking = _card(session)
    url = booking_checkout_url(booking=booking, **URLS)
    calls = fake_stripe.calls("/v1/checkout/sessions")
    assert len(calls) == 1
    call = calls[0]
    assert call["idempotency_key"] == f"checkout-{booking.reference}"
    assert call["params"]["line_items[0][price_data][unit_amount]"] == str(booking.total_cents)
    assert call["params"]["line_items[0][price_data][currency]"] == "eur"
    assert call["params"]["payment_method_types[0]"] == "card"  # no delayed methods
    assert call["params"]["metadata[booking]"] == booking.reference
    assert call["params"]["client_reference_id"] == booking.reference
    assert url.startswith("https://checkout.stripe.com/")
    payment = Payment.objects.get(booking=booking)
    assert payment.status == Payment.Status.PENDING
    assert payment.amount_cents == booking.total_cents
    booking.refresh_from_db()
    assert booking.status == Booking.Status.HELD  # never confirmed by the redirect


def test_retry_creates_no_second_charge(session, fake_stripe):
    booking = _card(session)
    first = booking_checkout_url(booking=booking, **URLS)
    again = booking_checkout_url(booking=booking, **URLS)
    assert first == again
    assert len(fake_stripe.calls("/v1/checkout/sessions")) == 1
    # Even if our row were lost (a crash between Stripe's answer and our commit), the same
    # idempotency key makes Stripe return the same session.
    Payment.objects.all().delete()
    third = booking_checkout_url(booking=booking, **URLS)
    assert third == first
    keys = {c["idempotency_key"] for c in fake_stripe.calls("/v1/checkout/sessions")}
    assert keys == {f"checkout-{booking.reference}"}
    assert Payment.objects.count() == 1


def test_fake_stripe_refuses_a_key_reused_with_other_parameters(fake_stripe):
    provider = provider_get()
    provider.refund(payment_intent_id="pi_1", amount_cents=100, idempotency_key="k")
    assert provider.refund(payment_intent_id="pi_1", amount_cents=100, idempotency_key="k")
    with pytest.raises(PaymentProviderError, match="same parameters"):
        provider.refund(payment_intent_id="pi_1", amount_cents=200, idempotency_key="k")


def test_a_retry_seconds_later_gets_the_same_checkout_session(session, fake_stripe, monkeypatch):
    """A double click lands while the first request is still at Stripe (no row stored yet), or
    a retry follows a timeout: the same key must carry the same parameters, or Stripe refuses
    it until the key expires and the visitor cannot pay."""
    booking = _card(session)
    first = booking_checkout_url(booking=booking, **URLS)
    Payment.objects.all().delete()  # the first request's row is not committed yet
    later = timezone.now() + timedelta(seconds=7)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert booking_checkout_url(booking=booking, **URLS) == first
    calls = fake_stripe.calls("/v1/checkout/sessions")
    assert len(calls) == 2 and calls[0]["params"] == calls[1]["params"]
    assert Payment.objects.get().url == first
    # Stripe needs 30 minutes at least, counted from the latest moment a checkout can start.
    booking.refresh_from_db()
    expires_at = int(calls[0]["params"]["expires_at"])
    assert expires_at >= booking.hold_expires_at.timestamp() + 30 * 60


def test_checkout_refused_for_on_site_or_confirmed(session, fake_stripe):
    booking = book(session)
    with pytest.raises(BookingError):
        booking_checkout_url(booking=booking, **URLS)
    assert fake_stripe.requests == []


def test_stripe_error_is_a_booking_error(session, fake_stripe):
    booking = _card(session)
    fake_stripe.fail_next = 400
    with pytest.raises(BookingError):
        booking_checkout_url(booking=booking, **URLS)
    assert not Payment.objects.exists()


def test_stay_deposit_then_balance_link(ski_school, fake_stripe):
    offer = offer_make(
        ski_school, kind="stay", pricing="per_unit", price_cents=10000, deposit_percent=30
    )
    session = session_make(offer, days=60, hours=24 * 3)
    booking = book(session, payment_method=Booking.PaymentMethod.CARD, units=1)
    assert booking.total_cents == 30000 and booking.deposit_cents == 9000
    booking_checkout_url(booking=booking, **URLS)
    call = fake_stripe.calls("/v1/checkout/sessions")[0]
    assert call["params"]["line_items[0][price_data][unit_amount]"] == "9000"
    payment = Payment.objects.get(booking=booking)
    assert payment.kind == Payment.Kind.DEPOSIT
    stripe_checkout_completed(
        {"id": payment.stripe_checkout_session_id, "payment_status": "paid",
         "amount_total": 9000, "payment_intent": "pi_dep"}
    )  # fmt: skip
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED and booking.balance_cents == 21000
    url = booking_balance_link(booking=booking)
    assert url.startswith("https://buy.stripe.com/")
    assert booking_balance_link(booking=booking) == url  # reused while pending
    link_calls = fake_stripe.calls("/v1/payment_links")
    assert len(link_calls) == 1
    assert link_calls[0]["idempotency_key"] == f"balance-{booking.reference}-21000"
    assert link_calls[0]["params"]["restrictions[completed_sessions][limit]"] == "1"
    assert link_calls[0]["params"]["payment_method_types[0]"] == "card"
    price_call = fake_stripe.calls("/v1/prices")[0]
    assert price_call["params"]["unit_amount"] == "21000"


def _deposit_paid_stay(ski_school):
    offer = offer_make(
        ski_school, kind="stay", pricing="per_unit", price_cents=10000, deposit_percent=30
    )
    booking = book(
        session_make(offer, days=60, hours=24 * 3),
        payment_method=Booking.PaymentMethod.CARD,
        units=1,
    )
    booking_checkout_url(booking=booking, **URLS)
    stripe_checkout_completed(
        {"id": Payment.objects.get(booking=booking).stripe_checkout_session_id,
         "payment_status": "paid", "amount_total": 9000, "payment_intent": "pi_dep"}
    )  # fmt: skip
    booking.refresh_from_db()
    return booking


def test_a_new_balance_link_deactivates_the_one_it_replaces(ski_school, fake_stripe):
    booking = _deposit_paid_stay(ski_school)
    first = booking_balance_link(booking=booking)
    old = Payment.objects.get(url=first)
    booking_payment_on_site_record(booking=booking, amount_cents=1000, by=None)
    second = booking_balance_link(booking=booking)
    assert second != first
    # The old link (21000) is closed at Stripe, so the guest cannot pay both.
    updates = fake_stripe.calls(f"/v1/payment_links/{old.stripe_payment_link_id}")
    assert len(updates) == 1 and updates[0]["params"] == {"active": "false"}
    assert fake_stripe.inactive_links == {old.stripe_payment_link_id}
    old.refresh_from_db()
    assert old.status == Payment.Status.EXPIRED
    new = Payment.objects.get(url=second)
    assert new.status == Payment.Status.PENDING and new.amount_cents == 20000
    assert booking_balance_link(booking=booking) == second  # reused, nothing more closed
    assert len([r for r in fake_stripe.requests if r["path"].startswith("/v1/payment_links/")]) == 1


def test_no_new_balance_link_while_the_old_one_stays_active(ski_school, fake_stripe):
    booking = _deposit_paid_stay(ski_school)
    first = booking_balance_link(booking=booking)
    booking_payment_on_site_record(booking=booking, amount_cents=1000, by=None)
    fake_stripe.fail_always = 400
    with pytest.raises(BookingError, match="could not be deactivated"):
        booking_balance_link(booking=booking)
    fake_stripe.fail_always = None
    assert Payment.objects.get(url=first).status == Payment.Status.PENDING
    assert len(fake_stripe.calls("/v1/payment_links")) == 1


def test_on_site_provider_has_no_link_to_deactivate(on_site):
    assert OnSiteProvider().payment_link_deactivate(link_id="plink_1") is None


def test_cancel_refunds_card_payment_once(session, fake_stripe, django_capture_on_commit_callbacks):
    booking = _paid_then_cancelled(session, fake_stripe, django_capture_on_commit_callbacks)
    payment = booking.payments.exclude(kind=Payment.Kind.REFUND).get()
    refunds = fake_stripe.calls("/v1/refunds")
    assert len(refunds) == 1
    assert refunds[0]["params"] == {"payment_intent": "pi_9", "amount": str(booking.total_cents)}
    assert refunds[0]["idempotency_key"] == f"refund-{payment.pk}"
    booking.refresh_from_db()
    assert booking.status == Booking.Status.REFUNDED
    assert booking.refunded_cents == booking.total_cents
    # The task running again (a retry) refunds nothing more.
    assert booking_refund_issue(booking.pk) == 0
    assert len(fake_stripe.calls("/v1/refunds")) == 1
    kinds = list(booking.events.values_list("kind", flat=True))
    assert kinds == ["created", "payment_received", "confirmed", "cancelled", "refunded"]


def _paid_then_cancelled(session, fake_stripe, capture, *, refund_answer: int | None = None):
    booking = _card(session)
    booking_checkout_url(booking=booking, **URLS)
    payment = Payment.objects.get(booking=booking)
    stripe_checkout_completed(
        {"id": payment.stripe_checkout_session_id, "payment_status": "paid",
         "amount_total": booking.total_cents, "payment_intent": "pi_9"}
    )  # fmt: skip
    fake_stripe.fail_always = refund_answer
    with capture(execute=True):
        booking_cancel(booking=booking, reason="")
    booking.refresh_from_db()
    return booking


def test_a_refund_stripe_refuses_is_flagged_for_the_desk(
    session, fake_stripe, django_capture_on_commit_callbacks
):
    fake_stripe.refund_status = "failed"
    booking = _paid_then_cancelled(session, fake_stripe, django_capture_on_commit_callbacks)
    assert booking.status == Booking.Status.CANCELLED  # not refunded: the money is not back
    assert booking.refunded_cents == 0 and booking.refund_failed_at is not None
    first_flag = booking.refund_failed_at
    booking_refund_issue(booking.pk)  # a second run keeps the first date
    booking.refresh_from_db()
    assert booking.refund_failed_at == first_flag


def test_stripe_errors_are_retried_with_one_key_then_flagged_and_a_later_success_clears_it(
    session, fake_stripe, django_capture_on_commit_callbacks, monkeypatch
):
    from bookings.tasks import booking_refund_task
    from destination.celery import app

    # Eager tasks replay their retries at once, unless exceptions propagate (the test default).
    monkeypatch.setitem(app.conf, "task_eager_propagates", False)

    # Stripe answers every refund with an error (a 400: the library itself does not retry it).
    booking = _paid_then_cancelled(
        session, fake_stripe, django_capture_on_commit_callbacks, refund_answer=400
    )
    tries = fake_stripe.calls("/v1/refunds")
    # The first try and six retries (eager here; 1 to 32 minutes apart on a worker), one key.
    assert len(tries) == 1 + booking_refund_task.max_retries
    assert {t["idempotency_key"] for t in tries} == {f"refund-{booking.payments.first().pk}"}
    assert booking.refund_failed_at is not None and booking.refunded_cents == 0

    fake_stripe.fail_always = None  # Stripe is back; the desk runs the refund again
    assert booking_refund_task.apply(args=[booking.pk]).get() == booking.total_cents
    booking.refresh_from_db()
    assert booking.status == Booking.Status.REFUNDED and booking.refund_failed_at is None
    assert booking_refund_task.apply(args=[booking.pk]).get() == 0  # never twice


def test_a_payment_at_the_desk_closes_the_balance_link_it_makes_stale(
    ski_school, fake_stripe, django_capture_on_commit_callbacks
):
    booking = _deposit_paid_stay(ski_school)
    link = Payment.objects.get(url=booking_balance_link(booking=booking))
    with django_capture_on_commit_callbacks(execute=True):
        booking_payment_on_site_record(booking=booking, amount_cents=booking.balance_cents, by=None)
    # Everything is paid: the emailed link must not take the balance a second time.
    assert fake_stripe.inactive_links == {link.stripe_payment_link_id}
    link.refresh_from_db()
    assert link.status == Payment.Status.EXPIRED
    assert booking_balance_links_close(booking.pk) == 0  # nothing left to close, no call
    assert len(fake_stripe.calls(f"/v1/payment_links/{link.stripe_payment_link_id}")) == 1
