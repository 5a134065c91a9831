"""The booking desk in the partner portal: who sees which bookings, the filters, bookings taken
on the phone, payment on site or by link, check-in and cancellation with a reason."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone, translation

from bookings import balances, services, stripe_events
from bookings.models import Booking, Offer
from destination.models import ConsentEvent, ConsentWording, Guest, Purpose, TimelineEvent
from partners.models import Membership, Partner, PartnerGuestLink, SharingRule
from partners.sharing import sharing_rules_ensure
from tests.bookings.web_helpers import (
    booking_post,
    make_booking,
    make_offer,
    make_session,
    make_wordings,
)
from tests.factories import MembershipFactory, PartnerFactory, UserFactory
from tests.queries import QueryLog, assert_same_num_queries, capture_queries

pytestmark = pytest.mark.django_db


def url(name: str, **kwargs: object) -> str:
    with translation.override("en"):
        return reverse(f"bookings_desk:{name}", kwargs=kwargs)


def staff_of(partner: Partner, role: str = Membership.Role.AGENT):
    return MembershipFactory(partner=partner, role=role, user=UserFactory(language="en")).user


@pytest.fixture
def two_bookings(school, lodge) -> tuple[Booking, Booking]:
    ours = make_booking(make_offer(partner=school).sessions.first(), email="ours@mail.example")
    theirs = make_booking(
        make_offer(partner=lodge, names=False).sessions.first(), email="theirs@mail.example"
    )
    return ours, theirs


# --- Access and isolation -------------------------------------------------------------------


def test_desk_needs_a_signed_in_staff_member(client, school):
    response = client.get(url("list"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(UserFactory())
    assert client.get(url("list")).status_code == 403


def test_partner_staff_see_only_their_own_bookings(client, school, two_bookings):
    ours, theirs = two_bookings
    client.force_login(staff_of(school))
    page = client.get(url("list")).content.decode()
    assert ours.reference in page
    assert theirs.reference not in page
    assert client.get(url("detail", reference=ours.reference)).status_code == 200
    # Another partner's booking does not exist for them, for reading or for any action.
    assert client.get(url("detail", reference=theirs.reference)).status_code == 404
    for action in ("payment", "check-in", "cancel", "payment-link"):
        response = client.post(url(action, reference=theirs.reference), {"reason": "x"})
        assert response.status_code == 404, action
    theirs.refresh_from_db()
    assert theirs.status == Booking.Status.CONFIRMED


def test_tourist_office_sees_every_booking(client, two_bookings):
    office = PartnerFactory(kind=Partner.Kind.TOURIST_OFFICE)
    client.force_login(staff_of(office, Membership.Role.MANAGER))
    page = client.get(url("list")).content.decode()
    for booking in two_bookings:
        assert booking.reference in page
        assert client.get(url("detail", reference=booking.reference)).status_code == 200


def test_desk_offers_are_the_partners_own(client, school, lodge):
    ours = make_offer(partner=school, title_en="Our lesson")
    theirs = make_offer(partner=lodge, title_en="Their chalet", names=False)
    client.force_login(staff_of(school))
    page = client.get(url("new")).content.decode()
    assert "Our lesson" in page and "Their chalet" not in page
    assert client.get(url("create", slug=ours.slug)).status_code == 200
    assert client.get(url("create", slug=theirs.slug)).status_code == 404


# --- List filters and query counts -----------------------------------------------------------


def test_list_filters_by_date_status_and_overdue_balance(client, school):
    offer = make_offer(partner=school, names=False, sessions=0)
    soon = make_session(offer, days=2)
    later = make_session(offer, days=9)
    a = make_booking(soon, email="a@mail.example")
    b = make_booking(later, email="b@mail.example")
    c = make_booking(later, email="c@mail.example")
    services.booking_cancel(booking=c, reason="test")
    Booking.objects.filter(pk=b.pk).update(balance_due_on=timezone.localdate() - dt.timedelta(1))
    last_week = make_session(offer, days=5)
    d = make_booking(last_week, email="d@mail.example")
    type(last_week).objects.filter(pk=last_week.pk).update(
        starts_at=last_week.starts_at - dt.timedelta(days=12),
        ends_at=last_week.ends_at - dt.timedelta(days=12),
    )
    client.force_login(staff_of(school))

    def listed(**params: object) -> set[str]:
        page = client.get(url("list"), params).content.decode()
        return {x.reference for x in (a, b, c, d) if x.reference in page}

    # Upcoming by default; past ones on demand, or when searched for.
    assert listed() == {a.reference, b.reference, c.reference}
    assert listed(period="past") == {d.reference}
    assert listed(period="all") == {a.reference, b.reference, c.reference, d.reference}
    assert listed(q=d.reference) == {d.reference}
    assert listed(date=timezone.localdate(soon.starts_at).isoformat()) == {a.reference}
    assert listed(status=Booking.Status.CANCELLED) == {c.reference}
    assert listed(overdue="on") == {b.reference}
    assert listed(q=a.reference) == {a.reference}
    # htmx asks for the results alone.
    partial = client.get(
        url("list"), {"q": a.reference}, headers={"HX-Request": "true", "HX-Target": "desk-results"}
    ).content.decode()
    assert "<html" not in partial and a.reference in partial


def _list_queries(client) -> QueryLog:
    with capture_queries() as ctx:
        assert client.get(url("list")).status_code == 200
    return ctx


def test_list_query_count_does_not_grow_with_bookings(client, school):
    offer = make_offer(partner=school, names=False, sessions=1, capacity=40)
    session = offer.sessions.get()
    for n in range(3):
        make_booking(session, email=f"g{n}@mail.example")
    client.force_login(staff_of(school))
    client.get(url("list"))
    three = _list_queries(client)
    for n in range(3, 20):
        make_booking(session, email=f"g{n}@mail.example")
    assert_same_num_queries(three, _list_queries(client))


# --- Taking a booking ------------------------------------------------------------------------


def test_phone_booking_is_confirmed_and_records_who_took_it(client, school):
    offer = make_offer(partner=school, price_cents=4500)
    agent = staff_of(school)
    client.force_login(agent)
    data = booking_post(offer.sessions.first(), channel="phone", payment="on_site")
    response = client.post(url("create", slug=offer.slug), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    booking = Booking.objects.get()
    assert booking.status == Booking.Status.CONFIRMED
    assert booking.channel == Booking.Channel.PHONE
    assert booking.created_by == agent
    assert response["Location"] == url("detail", reference=booking.reference)


def test_desk_consent_is_recorded_against_the_wording_read_to_the_guest(client, school):
    wordings = make_wordings()
    ConsentWording.objects.filter(language="fr").delete()
    offer = make_offer(partner=school)
    client.force_login(staff_of(school))
    # The agent's screen is in English; the guest speaks French.
    data = booking_post(
        offer.sessions.first(),
        channel="phone",
        payment="on_site",
        language="fr",
        consent_newsletter="on",
        consent_newsletter_wording=wordings[Purpose.NEWSLETTER].pk,
    )
    response = client.post(url("create", slug=offer.slug), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    event = ConsentEvent.objects.select_related("proof").get()
    assert event.proof.wording == wordings[Purpose.NEWSLETTER]
    assert event.proof.method == "desk"
    assert not ConsentWording.objects.filter(language="fr").exists()


def test_desk_booking_refuses_bad_input_and_creates_nothing(client, school):
    offer = make_offer(partner=school, sessions=0)
    session = make_session(offer, capacity=8, taken=7)
    client.force_login(staff_of(school))
    data = booking_post(session, channel="desk", payment="on_site")
    response = client.post(url("create", slug=offer.slug), data)
    assert response.status_code == 422
    assert "Only 1 places left" in response.content.decode() or "Only 1 place" in (
        response.content.decode()
    )
    assert not Booking.objects.exists()


def test_desk_form_is_prefilled_from_the_guest(client, school, two_bookings):
    sharing_rules_ensure()
    ours, _theirs = two_bookings
    client.force_login(staff_of(school))
    offer = ours.session.offer
    page = client.get(url("create", slug=offer.slug), {"guest": ours.booker_id}).content.decode()
    assert 'value="ours@mail.example"' in page


def test_the_desk_knows_the_guest_it_booked_for_a_ski_school(client, school):
    # Issue 13: after the desk books a guest for a ski school's lesson, the guest's page (as the
    # desk) said "Not yet known to your partner", with masked contacts and an empty timeline.
    sharing_rules_ensure()
    desk = PartnerFactory(name="Booking desk", kind=Partner.Kind.BOOKING_DESK)
    clerk = staff_of(desk)
    offer = make_offer(partner=school, price_cents=4500)
    client.force_login(clerk)
    response = client.post(
        url("create", slug=offer.slug),
        booking_post(offer.sessions.first(), channel="phone", payment="on_site"),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    booking = Booking.objects.get()
    assert booking.partner == school
    link = PartnerGuestLink.objects.get(partner=desk, guest=booking.booker)
    assert link.reason == PartnerGuestLink.Reason.BOOKING
    assert link.evidence["booking"] == booking.reference
    assert link.evidence["staff_id"] == clerk.pk

    with translation.override("en"):
        guest_url = reverse("portal:guest", args=[booking.booker_id])
    page = client.get(guest_url).content.decode()
    assert "Not yet known to your partner" not in page
    assert "Known to your partner" in page
    assert "lea.martin@mail.example" in page  # contacts no longer masked
    assert booking.reference in page or "Booking" in page  # the booking on the timeline

    # A new booking for the same guest starts from what the desk knows: email, first participant.
    page = client.get(url("create", slug=offer.slug), {"guest": booking.booker_id}).content
    page = page.decode()
    assert 'value="lea.martin@mail.example"' in page
    # The guest is the booker and, unless the desk unticks it, adult 1: the name is typed once.
    assert 'name="first_name"' in page and 'value="Léa"' in page
    assert 'data-testid="booker-participant"' in page


def test_desk_prefill_follows_the_access_layer(client, school):
    # Issue 16: with identity closed to unrelated partners, the desk form still prefilled the
    # name and country of any guest id.
    sharing_rules_ensure()
    SharingRule.objects.filter(level=SharingRule.Level.UNRELATED).update(sections=[])
    desk = PartnerFactory(kind=Partner.Kind.BOOKING_DESK)
    offer = make_offer(partner=school)
    stranger = make_booking(offer.sessions.first(), email="stranger@mail.example").booker
    Guest.objects.filter(pk=stranger.pk).update(country="DE", first_name="Zelda")
    client.force_login(staff_of(desk))
    page = client.get(url("create", slug=offer.slug), {"guest": stranger.pk}).content.decode()
    assert "Zelda" not in page and "Stranger" not in page
    assert "stranger@mail.example" not in page
    assert '<option value="DE" selected' not in page


# --- Payment, check-in, cancellation ----------------------------------------------------------


def test_payment_on_site_is_recorded_and_overpayment_refused(client, school):
    booking = make_booking(make_offer(partner=school, price_cents=4500).sessions.first())
    client.force_login(staff_of(school))
    response = client.post(url("payment", reference=booking.reference), {"amount": "100.00"})
    assert response.status_code == 422
    assert "more than what is left" in response.content.decode()
    response = client.post(url("payment", reference=booking.reference), {"amount": "45.00"})
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.paid_cents == 4500


def test_payment_link_is_emailed(client, school, monkeypatch, django_capture_on_commit_callbacks):
    booking = make_booking(make_offer(partner=school).sessions.first())
    monkeypatch.setattr(services, "payment_provider", lambda: "stripe")
    monkeypatch.setattr(
        balances, "booking_balance_link", lambda *, booking: "https://buy.stripe.test/pl_1"
    )
    client.force_login(staff_of(school))
    with django_capture_on_commit_callbacks(execute=True):  # the email leaves after the commit
        response = client.post(url("payment-link", reference=booking.reference))
    assert response.status_code == 302
    assert len(mail.outbox) >= 1
    sent = mail.outbox[-1]
    assert sent.to == [booking.contact_email]
    assert "https://buy.stripe.test/pl_1" in sent.body
    entry = TimelineEvent.objects.filter(
        guest=booking.booker, kind=TimelineEvent.Kind.MESSAGE
    ).latest("pk")
    assert entry.data["email"] == "payment_link" and entry.partner_id == booking.partner_id
    assert entry.title.startswith("Payment link email sent for " + booking.reference)


def test_check_in_on_the_day(client, school):
    offer = make_offer(partner=school, names=False, sessions=0)
    today = make_session(offer, start=timezone.now() + dt.timedelta(hours=2))
    booking = make_booking(today)
    client.force_login(staff_of(school))
    assert client.post(url("check-in", reference=booking.reference)).status_code == 302
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CHECKED_IN


def test_check_in_too_early_says_why(client, school):
    booking = make_booking(make_offer(partner=school, names=False).sessions.first())
    client.force_login(staff_of(school))
    response = client.post(url("check-in", reference=booking.reference), follow=True)
    assert "Check-in opens on the day" in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED


def test_staff_cancel_needs_a_reason_and_may_override_the_policy(client, school):
    offer = make_offer(partner=school, names=False, sessions=0, free_cancellation_days=3)
    booking = make_booking(make_session(offer, days=1))
    client.force_login(staff_of(school))
    response = client.post(url("cancel", reference=booking.reference), {"reason": ""})
    assert response.status_code == 422
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED
    response = client.post(url("cancel", reference=booking.reference), {"reason": "Storm"})
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert booking.cancel_reason == "Storm"


def _cancel_message(client, booking: Booking) -> str:
    response = client.post(
        url("cancel", reference=booking.reference), {"reason": "Storm"}, follow=True
    )
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    return response.content.decode()


def test_cancelling_says_what_happens_to_money_paid_on_site(client, school):
    booking = make_booking(make_offer(partner=school, price_cents=4500).sessions.first())
    client.force_login(staff_of(school))
    client.post(url("payment", reference=booking.reference), {"amount": "20.00"})
    page = _cancel_message(client, booking)
    assert "20.00 EUR paid on site is to be given back to the guest at the desk." in page
    assert "card payment" not in page


def test_cancelling_says_nothing_was_paid(client, school):
    booking = make_booking(make_offer(partner=school).sessions.first())
    client.force_login(staff_of(school))
    page = _cancel_message(client, booking)
    assert "Booking cancelled. Nothing was paid." in page
    assert "refunded" not in page


def test_cancelling_a_card_paid_booking_says_it_is_refunded(client, school, fake_stripe):
    session = make_offer(partner=school, names=False, price_cents=4500).sessions.first()
    booking = make_booking(session, payment_method=Booking.PaymentMethod.CARD)
    services.booking_checkout_url(
        booking=booking, success_url="https://x/ok", cancel_url="https://x/ko"
    )
    checkout = booking.payments.get()
    stripe_events.stripe_checkout_completed(
        {"id": checkout.stripe_checkout_session_id, "payment_status": "paid",
         "amount_total": 4500, "payment_intent": "pi_desk"}
    )  # fmt: skip
    client.force_login(staff_of(school))
    page = _cancel_message(client, booking)
    assert "The card payment (45.00 EUR) is being refunded." in page
    assert "on site" not in page


def test_offer_kinds_show_on_the_new_booking_screen(client, school):
    make_offer(partner=school, kind=Offer.Kind.RENTAL, title_en="Skis", names=False)
    client.force_login(staff_of(school))
    assert "Equipment rental" in client.get(url("new")).content.decode()


def test_desk_party_rows_follow_the_party_and_stay_within_the_partner(client, school, lodge):
    ours = make_offer(partner=school, price_cents=4500)
    theirs = make_offer(partner=lodge, names=False)
    client.force_login(staff_of(school))
    body = client.get(
        url("party", slug=ours.slug), {"adults": 3}, headers={"HX-Request": "true"}
    ).content.decode()
    assert 'name="p2_first_name"' in body and "€135" in body
    assert client.get(url("party", slug=theirs.slug), {"adults": 1}).status_code == 404


def test_a_failed_refund_shows_and_is_in_the_follow_up_filter(client, school):
    booking = make_booking(make_offer(partner=school).sessions.first(), email="r@mail.example")
    other = make_booking(make_offer(partner=school).sessions.first(), email="s@mail.example")
    booking.status = Booking.Status.CANCELLED
    booking.refund_failed_at = timezone.now()
    booking.save()
    client.force_login(staff_of(school))
    detail = client.get(url("detail", reference=booking.reference)).content.decode()
    assert "Refund failed" in detail and "Refund the guest another way" in detail
    page = client.get(url("list"), {"overdue": "on", "period": "all"}).content.decode()
    assert booking.reference in page and other.reference not in page
