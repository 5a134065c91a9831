"""The public booking pages: offers, the booking form and every refused input, the return
pages of a card payment, the signed "manage my booking" link and My bookings."""

from __future__ import annotations

import datetime as dt

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse
from django.utils import timezone, translation

from bookings import services
from bookings.links import booking_signed_token
from bookings.models import Booking, Offer, Participant
from bookings.pricing import booking_cancellation_policy
from destination.models import ConsentEvent, ConsentWording, Guest, Purpose
from destination.services.consent import consent_wording_current
from tests.bookings.web_helpers import booking_post, make_offer, make_session, make_wordings
from tests.factories import UserFactory
from tests.queries import QueryLog, assert_same_num_queries, capture_queries

pytestmark = pytest.mark.django_db


def url(name: str, **kwargs: object) -> str:
    with translation.override("en"):
        return reverse(f"bookings:{name}", kwargs=kwargs)


def book(client, offer: Offer, data: dict):
    return client.post(url("offer-detail", slug=offer.slug), data)


# --- Offers ---------------------------------------------------------------------------------


def test_offer_list_shows_published_offers_and_filters_by_kind(client):
    lesson = make_offer(title_en="Morning group lesson")
    stay = make_offer(kind=Offer.Kind.STAY, title_en="Chalet Edelweiss", names=False)
    make_offer(title_en="Secret draft", is_published=False)

    page = client.get(url("offer-list")).content.decode()
    assert lesson.title_en in page and stay.title_en in page
    assert "Secret draft" not in page

    page = client.get(url("offer-list"), {"kind": "stay"}).content.decode()
    assert stay.title_en in page and lesson.title_en not in page


def test_offer_list_is_translated(client):
    make_offer(title_en="Morning group lesson", title_fr="Cours collectif du matin")
    with translation.override("fr"):
        page = client.get(reverse("bookings:offer-list")).content.decode()
    assert "Cours collectif du matin" in page


def _list_queries(client) -> QueryLog:
    with capture_queries() as ctx:
        assert client.get(url("offer-list")).status_code == 200
    return ctx


def test_offer_list_query_count_does_not_grow_with_offers(client):
    for _ in range(3):
        make_offer(sessions=1)
    client.get(url("offer-list"))  # warm the per-process caches (Wagtail site, brand)
    three = _list_queries(client)
    for _ in range(17):
        make_offer(sessions=2)
    twenty = _list_queries(client)
    assert_same_num_queries(three, twenty)  # else the offer list runs a query per offer


def test_unknown_or_unpublished_offer_is_404(client):
    draft = make_offer(is_published=False)
    assert client.get(url("offer-detail", slug="no-such-offer")).status_code == 404
    assert client.get(url("offer-detail", slug=draft.slug)).status_code == 404
    response = client.post(url("offer-detail", slug="no-such-offer"), {"adults": 1})
    assert response.status_code == 404
    assert not Booking.objects.exists()


def test_offer_detail_lists_upcoming_sessions_with_seats_left(client):
    offer = make_offer(sessions=0)
    open_ = make_session(offer, days=4, capacity=8, taken=5)
    full = make_session(offer, days=5, capacity=8, taken=8)
    past = make_session(offer, days=-1, capacity=8)
    page = client.get(url("offer-detail", slug=offer.slug)).content.decode()
    assert f'value="{open_.pk}"' in page
    assert "3 places left" in page
    assert f'value="{full.pk}"' not in page
    assert f'value="{past.pk}"' not in page


def test_offer_detail_renders_the_exact_consent_wordings(client):
    wordings = make_wordings()
    offer = make_offer()
    page = client.get(url("offer-detail", slug=offer.slug)).content.decode()
    for wording in wordings.values():
        assert wording.text in page
        assert f'value="{wording.pk}"' in page
    assert offer.partner.name in page


def test_party_endpoint_draws_one_name_row_per_person_and_keeps_typed_names(client):
    offer = make_offer(price_cents=4500)
    response = client.get(
        url("offer-party", slug=offer.slug),
        {"adults": 2, "children": 2, "p0_first_name": "Léa"},
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert body.count('name="p3_first_name"') == 1
    assert 'name="p4_first_name"' not in body
    assert 'value="Léa"' in body
    assert (
        'name="expected_total_cents" id="expected-total" value="18000" hx-swap-oob="true"' in body
    )
    assert 'hx-swap-oob="true"' in body  # the price panel follows


# --- Booking: the happy paths --------------------------------------------------------------


def test_pay_on_site_booking_is_confirmed_and_shows_its_confirmation(client):
    offer = make_offer(price_cents=4500)
    session = offer.sessions.first()
    response = book(client, offer, booking_post(session))
    assert response.status_code == 302, response.content.decode()[:2000]
    booking = Booking.objects.get()
    assert booking.status == Booking.Status.CONFIRMED
    assert booking.payment_method == Booking.PaymentMethod.ON_SITE
    assert booking.channel == Booking.Channel.WEB
    assert (booking.adults, booking.children, booking.total_cents) == (2, 1, 13500)
    assert sorted(Participant.objects.values_list("first_name", flat=True)) == [
        "Hugo",
        "Léa",
        "Zoé",
    ]
    page = client.get(response["Location"]).content.decode()
    assert "Booking confirmed" in page
    assert booking.reference in page
    assert "€135" in page
    assert "2 adults" in page and "1 child" in page
    assert "Zoé Martin" in page


def test_ticked_consents_are_recorded_with_the_wording_shown(client):
    wordings = make_wordings()
    offer = make_offer()
    session = offer.sessions.first()
    data = booking_post(
        session,
        consent_newsletter="on",
        consent_newsletter_wording=wordings[Purpose.NEWSLETTER].pk,
        consent_partner_offers_wording=wordings[Purpose.PARTNER_OFFERS].pk,
    )
    assert book(client, offer, data).status_code == 302
    events = ConsentEvent.objects.select_related("proof__wording")
    assert {e.purpose for e in events} == {Purpose.NEWSLETTER}
    assert events[0].proof.wording.text == wordings[Purpose.NEWSLETTER].text


def test_card_booking_is_held_and_sent_to_checkout(client, monkeypatch):
    monkeypatch.setattr(services, "payment_provider", lambda: "stripe")
    seen = {}

    def checkout(*, booking, success_url, cancel_url):
        seen.update(success=success_url, cancel=cancel_url)
        return "https://checkout.stripe.test/c/pay/cs_test_1"

    monkeypatch.setattr(services, "booking_checkout_url", checkout)
    offer = make_offer()
    response = book(client, offer, booking_post(offer.sessions.first()))
    assert response.status_code == 302
    assert response["Location"] == "https://checkout.stripe.test/c/pay/cs_test_1"
    booking = Booking.objects.get()
    assert booking.status == Booking.Status.HELD
    token = booking_signed_token(booking)
    assert seen["success"].endswith(url("booking-paid", token=token))
    assert seen["cancel"].endswith(url("booking-payment-cancelled", token=token))

    # The success redirect proves nothing: the page waits and polls until the webhook confirms.
    page = client.get(url("booking-paid", token=token)).content.decode()
    assert "Payment being confirmed" in page
    assert url("booking-status", token=token) in page
    poll = client.get(url("booking-status", token=token), headers={"HX-Request": "true"})
    assert "HX-Redirect" not in poll
    Booking.objects.filter(pk=booking.pk).update(status=Booking.Status.CONFIRMED)
    poll = client.get(url("booking-status", token=token), headers={"HX-Request": "true"})
    assert poll["HX-Redirect"] == url("booking-detail", token=token)

    cancelled = client.get(url("booking-payment-cancelled", token=token)).content.decode()
    assert "Payment cancelled" in cancelled


# --- Booking: refused input changes nothing --------------------------------------------------


def _assert_refused(response, field_text: str) -> None:
    assert response.status_code == 422
    body = response.content.decode()
    assert field_text in body, body[:3000]
    assert not Booking.objects.exists()
    assert not Guest.objects.exists()


def test_past_session_is_refused(client):
    offer = make_offer()
    past = make_session(offer, days=-1)
    _assert_refused(book(client, offer, booking_post(past)), "not available any more")


def test_session_of_another_offer_is_refused(client):
    offer, other = make_offer(), make_offer()
    _assert_refused(
        book(client, offer, booking_post(other.sessions.first())), "not available any more"
    )


def test_party_larger_than_seats_left_is_refused(client):
    offer = make_offer(sessions=0)
    session = make_session(offer, capacity=8, taken=6)
    _assert_refused(book(client, offer, booking_post(session)), "Only 2 places left")


def test_negative_counts_are_refused(client):
    offer = make_offer()
    data = booking_post(offer.sessions.first(), adults=-1, children=2)
    _assert_refused(book(client, offer, data), "cannot be negative")


def test_empty_party_is_refused(client):
    offer = make_offer(names=False)
    data = booking_post(offer.sessions.first(), adults=0, children=0)
    _assert_refused(book(client, offer, data), "at least one person")


def test_tampered_amount_is_refused(client):
    offer = make_offer(price_cents=4500)
    data = booking_post(offer.sessions.first(), expected_total_cents=100)
    _assert_refused(book(client, offer, data), "The price has changed")


def test_missing_participant_names_are_refused_on_their_fields(client):
    offer = make_offer()
    data = booking_post(offer.sessions.first(), p2_first_name="", p2_last_name="")
    response = book(client, offer, data)
    _assert_refused(response, 'id="id_p2_first_name_error"')


def test_bad_email_is_refused(client):
    offer = make_offer()
    _assert_refused(
        book(client, offer, booking_post(offer.sessions.first(), email="not-an-email")),
        'id="id_email_error"',
    )


def test_a_posted_wording_never_becomes_the_text_shown_to_everyone(client):
    """Reproduced: the French newsletter wording's id posted on the English page was recorded
    as a new English version, shown from then on to every visitor."""
    wordings = make_wordings()
    english = wordings[Purpose.NEWSLETTER]
    french = ConsentWording.objects.get(purpose=Purpose.NEWSLETTER, language="fr")
    offer = make_offer()
    data = booking_post(
        offer.sessions.first(), consent_newsletter="on", consent_newsletter_wording=french.pk
    )
    _assert_refused(book(client, offer, data), "consent text is not known")
    assert ConsentWording.objects.count() == 6
    assert consent_wording_current(purpose=Purpose.NEWSLETTER, language="en") == english
    assert not ConsentEvent.objects.exists()


def test_unknown_consent_wording_is_refused(client):
    make_wordings()
    offer = make_offer()
    data = booking_post(
        offer.sessions.first(), consent_newsletter="on", consent_newsletter_wording=999999
    )
    _assert_refused(book(client, offer, data), "consent text is not known")


# --- Manage my booking -------------------------------------------------------------------------


def _booked(client, offer: Offer | None = None) -> tuple[Booking, str]:
    offer = offer or make_offer()
    assert book(client, offer, booking_post(offer.sessions.first())).status_code == 302
    booking = Booking.objects.get()
    return booking, booking_signed_token(booking)


def test_bad_token_is_404(client):
    assert client.get(url("booking-detail", token="nope")).status_code == 404
    assert client.post(url("booking-cancel", token="nope")).status_code == 404


def test_visitor_cancels_within_policy(client):
    booking, token = _booked(client)
    page = client.get(url("booking-cancel", token=token)).content.decode()
    assert "Yes, cancel the booking" in page
    response = client.post(url("booking-cancel", token=token), {"reason": "Flu"})
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert booking.session.seats_taken == 0
    assert "Booking cancelled" in client.get(response["Location"]).content.decode()


def test_visitor_cannot_cancel_after_the_free_cancellation_deadline(client):
    offer = make_offer(sessions=0, free_cancellation_days=2)
    make_session(offer, days=1.2)
    booking, token = _booked(client, offer)
    page = client.get(url("booking-detail", token=token)).content.decode()
    assert "Free cancellation ended" in page
    response = client.post(url("booking-cancel", token=token), {"reason": ""})
    assert response.status_code == 422
    assert "cannot be cancelled online" in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED


def test_my_bookings_lists_bookings_of_verified_addresses_only(client):
    booking, _token = _booked(client)
    owner = UserFactory(email="lea.martin@mail.example")
    EmailAddress.objects.create(user=owner, email=owner.email, verified=True, primary=True)
    stranger = UserFactory(email="someone@mail.example")
    EmailAddress.objects.create(
        user=stranger, email="lea.martin@mail.example", verified=False, primary=False
    )

    client.force_login(owner)
    page = client.get(url("my-bookings")).content.decode()
    assert booking.reference in page

    client.force_login(stranger)
    page = client.get(url("my-bookings")).content.decode()
    assert booking.reference not in page
    assert "not verified" in page


def test_my_bookings_needs_a_login(client):
    response = client.get(url("my-bookings"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_cancellation_deadline_uses_the_offer_policy():
    offer = make_offer(sessions=0, free_cancellation_days=3)
    session = make_session(offer, days=10)
    booking = Booking(session=session, status=Booking.Status.CONFIRMED)
    policy = booking_cancellation_policy(booking=booking)

    assert policy.deadline == session.starts_at - dt.timedelta(days=3)
    assert policy.deadline > timezone.now()
    assert policy.allowed


def test_stay_with_deposit_shows_the_payment_schedule(client, monkeypatch):
    monkeypatch.setattr(services, "payment_provider", lambda: "stripe")
    monkeypatch.setattr(
        services, "booking_checkout_url", lambda **kw: "https://checkout.stripe.test/c/1"
    )
    stay = make_offer(
        kind=Offer.Kind.STAY,
        names=False,
        pricing=Offer.Pricing.PER_UNIT,
        price_cents=20000,
        deposit_percent=30,
        balance_due_days=30,
        sessions=0,
    )
    session = make_session(stay, days=60)
    Session = type(session)
    Session.objects.filter(pk=session.pk).update(ends_at=session.starts_at + dt.timedelta(days=2))
    session.refresh_from_db()

    page = client.get(url("offer-detail", slug=stay.slug)).content.decode()
    assert "Deposit today" in page and "€120" in page  # 30 % of 2 nights x €200
    assert "Continue to secure payment" in page

    data = booking_post(session, adults=2, children=0, units=1, expected_total_cents=40000)
    response = book(client, stay, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    booking = Booking.objects.get()
    assert (booking.status, booking.total_cents, booking.deposit_cents) == (
        Booking.Status.HELD,
        40000,
        12000,
    )
    token = booking_signed_token(booking)
    held = client.get(url("booking-detail", token=token)).content.decode()
    assert "Awaiting payment" in held and "Pay now" in held

    Booking.objects.filter(pk=booking.pk).update(status=Booking.Status.CONFIRMED, paid_cents=12000)
    page = client.get(url("booking-detail", token=token)).content.decode()
    assert "Deposit at booking" in page
    assert "€120 · paid" in page
    due = booking.balance_due_on.strftime("%-d %B %Y")
    assert f"Balance due by {due}" in page
    assert "€280" in page


def test_my_bookings_query_count_does_not_grow_with_bookings(client):
    from tests.bookings.web_helpers import make_booking

    owner = UserFactory(email="many@mail.example")
    EmailAddress.objects.create(user=owner, email=owner.email, verified=True, primary=True)
    offer = make_offer(names=False, sessions=1, capacity=40)
    session = offer.sessions.get()
    for _ in range(3):
        make_booking(session, email=owner.email)
    client.force_login(owner)
    client.get(url("my-bookings"))

    def count() -> QueryLog:
        with capture_queries() as ctx:
            assert client.get(url("my-bookings")).status_code == 200
        return ctx

    three = count()
    for _ in range(7):
        make_booking(session, email=owner.email)
    assert_same_num_queries(three, count())


def test_offer_page_carries_the_total_shown_in_the_form(client):
    offer = make_offer(price_cents=4500)
    page = client.get(url("offer-detail", slug=offer.slug)).content.decode()
    assert 'name="expected_total_cents" id="expected-total" value="4500">' in page
    assert 'hx-swap="none"' in page  # a new date never redraws the name rows


def test_offer_pages_are_indexable_and_booking_pages_are_not(client):
    booking, token = _booked(client)
    offer_page = client.get(url("offer-detail", slug=booking.session.offer.slug)).content.decode()
    assert "noindex" not in offer_page
    assert '<meta name="description" content="Three hours' in offer_page
    assert "noindex" not in client.get(url("offer-list")).content.decode()
    assert "noindex" in client.get(url("booking-detail", token=token)).content.decode()


def test_french_visitor_books_in_french(client):
    offer = make_offer(price_cents=4500)
    with translation.override("fr"):
        path = reverse("bookings:offer-detail", kwargs={"slug": offer.slug})
    page = client.get(path).content.decode()
    assert "Choisir une date" in page and offer.title_fr in page
    response = client.post(path, booking_post(offer.sessions.first(), language="fr"))
    assert response.status_code == 302
    assert response["Location"].startswith("/fr/book/booking/")
    booking = Booking.objects.get()
    assert booking.language == "fr"
    confirmation = client.get(response["Location"]).content.decode()
    assert "Réservation confirmée" in confirmation
    assert "135\N{NO-BREAK SPACE}€" in confirmation
