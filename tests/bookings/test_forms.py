"""The booking forms: each bad input lands on its own field, name rows follow the party, the
consent wording shown is the one recorded."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from bookings.forms import MAX_PARTY, BookingForm, DeskBookingForm
from bookings.models import Offer, Session
from destination.models import ConsentWording, Purpose
from tests.bookings.web_helpers import booking_post, make_offer, make_session, make_wordings

pytestmark = pytest.mark.django_db


def form_for(offer: Offer, data: dict | None = None, sessions=None, **kwargs) -> BookingForm:
    return BookingForm(
        data,
        offer=offer,
        sessions=sessions if sessions is not None else Session.objects.filter(offer=offer),
        language="en",
        **kwargs,
    )


def test_valid_form_gives_participants_in_party_order():
    offer = make_offer()
    form = form_for(offer, booking_post(offer.sessions.first()))
    assert form.is_valid(), form.errors
    assert [(p["first_name"], p["is_child"]) for p in form.participants()] == [
        ("Léa", False),
        ("Hugo", False),
        ("Zoé", True),
    ]
    assert form.cleaned_data["email"] == "lea.martin@mail.example"
    assert form.cleaned_data["phone"] == "+33612345678"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("adults", -1, "cannot be negative"),
        ("children", -3, "cannot be negative"),
        ("adults", "two", "Enter a whole number"),
        ("email", "lea@", "valid email"),
        ("phone", "12", "phone"),
        ("first_name", "", "required"),
    ],
)
def test_bad_input_is_reported_on_its_field(field, value, message):
    offer = make_offer(names=False)
    form = form_for(offer, booking_post(offer.sessions.first(), **{field: value}))
    assert not form.is_valid()
    assert message.lower() in " ".join(form.errors[field]).lower()


def test_session_that_started_meanwhile_is_refused():
    offer = make_offer(names=False, sessions=0)
    started = make_session(offer, start=timezone.now() - dt.timedelta(minutes=1))
    form = form_for(offer, booking_post(started), sessions=Session.objects.all())
    assert not form.is_valid()
    assert "already started" in form.errors["session"][0]


def test_session_not_offered_is_refused():
    offer = make_offer(names=False)
    other = make_offer(names=False).sessions.first()
    form = form_for(offer, booking_post(other))
    assert "not available any more" in form.errors["session"][0]


def test_party_larger_than_the_seats_left():
    offer = make_offer(names=False, sessions=0)
    session = make_session(offer, capacity=10, taken=8)
    form = form_for(offer, booking_post(session, adults=2, children=1))
    assert not form.is_valid()
    assert "Only 2 places left" in form.errors["adults"][0]


def test_empty_and_oversized_parties():
    offer = make_offer(names=False)
    session = offer.sessions.first()
    empty = form_for(offer, booking_post(session, adults=0, children=0))
    assert "at least one person" in empty.errors["adults"][0]
    big = form_for(offer, booking_post(session, adults=MAX_PARTY, children=1))
    assert "contact the partner" in big.errors["children"][0]


def test_name_rows_follow_the_party_and_each_name_is_required():
    offer = make_offer()
    session = offer.sessions.first()
    form = form_for(offer, booking_post(session, adults=1, children=1))
    assert [f for f in form.fields if f.startswith("p") and f[1].isdigit()] == [
        "p0_first_name",
        "p0_last_name",
        "p1_first_name",
        "p1_last_name",
    ]
    rows = form.participant_bound_rows()
    assert [(r["number"], r["is_child"]) for r in rows] == [(1, False), (1, True)]
    form = form_for(offer, booking_post(session, p1_first_name=""))
    assert not form.is_valid()
    assert "p1_first_name" in form.errors


def test_offers_without_names_draw_no_rows():
    offer = make_offer(kind=Offer.Kind.PASS, names=False)
    form = form_for(offer, booking_post(offer.sessions.first()))
    assert not [f for f in form.fields if f.startswith("p0")]
    assert form.is_valid(), form.errors
    assert form.participants() == []


def test_per_unit_offers_ask_for_units_and_count_seats_by_unit():
    offer = make_offer(
        kind=Offer.Kind.STAY, names=False, pricing=Offer.Pricing.PER_UNIT, sessions=0
    )
    session = make_session(offer, capacity=3, taken=2)
    form = form_for(offer, booking_post(session, adults=4, children=2, units=2))
    assert "units" in form.fields
    assert not form.is_valid()
    assert "Only 1 places left" in form.errors["units"][0]
    form = form_for(offer, booking_post(session, adults=4, children=2, units=1))
    assert form.is_valid(), form.errors


def test_consents_are_offered_with_the_current_wording_and_record_what_was_shown():
    wordings = make_wordings()
    offer = make_offer(names=False)
    form = form_for(offer)
    assert [c.purpose for c in form.consent_fields] == [
        Purpose.NEWSLETTER,
        Purpose.PARTNER_OFFERS,
        Purpose.PROFILE_SHARING,
    ]
    assert form.fields["consent_newsletter"].label == wordings[Purpose.NEWSLETTER].text

    shown = wordings[Purpose.NEWSLETTER]
    data = booking_post(
        offer.sessions.first(), consent_newsletter="on", consent_newsletter_wording=shown.pk
    )
    form = form_for(offer, data)
    assert form.is_valid(), form.errors
    consents = {purpose: (w, given) for purpose, w, given in form.consents()}
    assert consents[Purpose.NEWSLETTER] == (shown, True)
    assert consents[Purpose.PARTNER_OFFERS][1] is False


def test_a_version_published_meanwhile_asks_to_read_the_new_text_again():
    wordings = make_wordings()
    offer = make_offer(names=False)
    shown = wordings[Purpose.NEWSLETTER]
    newer = ConsentWording.objects.create(
        purpose=Purpose.NEWSLETTER, language="en", version="t2", text="A newer text."
    )
    data = booking_post(
        offer.sessions.first(), consent_newsletter="on", consent_newsletter_wording=shown.pk
    )
    form = form_for(offer, data)
    assert not form.is_valid()
    assert "has changed" in form.errors["consent_newsletter"][0]
    # Drawn again with the new text, its id, and the box unticked.
    row = form.consent_rows()[0]
    assert row["field"].label == newer.text
    assert row["wording"].value() == str(newer.pk)
    assert not row["field"].value()
    # An unticked box records nothing, so an older id does not matter there.
    data = booking_post(offer.sessions.first(), consent_newsletter_wording=shown.pk)
    assert form_for(offer, data).is_valid()


def test_a_wording_of_another_language_is_refused():
    wordings = make_wordings()
    offer = make_offer(names=False)
    french = ConsentWording.objects.get(purpose=Purpose.NEWSLETTER, language="fr")
    data = booking_post(
        offer.sessions.first(), consent_newsletter="on", consent_newsletter_wording=french.pk
    )
    form = form_for(offer, data)  # an English page
    assert not form.is_valid()
    assert "not known" in form.errors["consent_newsletter"][0]
    assert form.consent_rows()[0]["wording"].value() == str(wordings[Purpose.NEWSLETTER].pk)


def test_the_english_fallback_shown_on_a_french_page_is_accepted():
    wordings = make_wordings()
    ConsentWording.objects.filter(language="fr", purpose=Purpose.NEWSLETTER).delete()
    offer = make_offer(names=False)
    english = wordings[Purpose.NEWSLETTER]
    data = booking_post(
        offer.sessions.first(), consent_newsletter="on", consent_newsletter_wording=english.pk
    )
    form = BookingForm(
        data, offer=offer, sessions=Session.objects.filter(offer=offer), language="fr"
    )
    assert form.is_valid(), form.errors
    assert {p: w for p, w, _g in form.consents()}[Purpose.NEWSLETTER] == english


def test_a_wording_of_another_purpose_is_refused():
    wordings = make_wordings()
    offer = make_offer(names=False)
    data = booking_post(
        offer.sessions.first(),
        consent_newsletter="on",
        consent_newsletter_wording=wordings[Purpose.PROFILE_SHARING].pk,
    )
    form = form_for(offer, data)
    assert not form.is_valid()
    assert "not known" in form.errors["consent_newsletter"][0]


def test_french_visitors_see_french_wordings_and_english_as_fallback():
    make_wordings()
    ConsentWording.objects.filter(language="fr", purpose=Purpose.PROFILE_SHARING).delete()
    offer = make_offer(names=False)
    form = BookingForm(offer=offer, sessions=Session.objects.filter(offer=offer), language="fr")
    labels = {c.purpose: c.wording.text for c in form.consent_fields}
    assert labels[Purpose.NEWSLETTER].startswith("[fr]")
    assert not labels[Purpose.PROFILE_SHARING].startswith("[fr]")


def test_party_redraw_attributes_are_set_on_counts_and_dates():
    offer = make_offer()
    form = form_for(offer, party_url="/en/book/x/party/")
    assert form.fields["adults"].widget.attrs["hx-get"] == "/en/book/x/party/"
    assert "delay" in form.fields["adults"].widget.attrs["hx-trigger"]
    assert form.fields["session"].widget.attrs["hx-trigger"] == "change"


def test_desk_form_offers_a_payment_link_only_with_stripe():
    offer = make_offer(names=False)
    sessions = Session.objects.filter(offer=offer)
    without = DeskBookingForm(offer=offer, sessions=sessions, language="en", stripe_enabled=False)
    with_stripe = DeskBookingForm(
        offer=offer, sessions=sessions, language="en", stripe_enabled=True
    )
    assert [v for v, _l in without.fields["payment"].choices] == ["on_site"]
    assert [v for v, _l in with_stripe.fields["payment"].choices] == ["on_site", "link"]
