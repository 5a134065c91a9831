"""The offer page as a visitor uses it: the name typed once, places left as the party grows,
an error summary that links to its fields, a short list of dates, words instead of "units",
and a cancelled booking that asks for no money."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import translation

from bookings import services
from bookings.links import booking_signed_token
from bookings.models import Booking, Offer, Participant
from partners.models import Membership
from tests.bookings.web_helpers import booking_post, make_booking, make_offer, make_session
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def url(name: str, **kwargs: object) -> str:
    with translation.override("en"):
        return reverse(f"bookings:{name}", kwargs=kwargs)


def page(client, offer: Offer) -> str:
    return client.get(url("offer-detail", slug=offer.slug)).content.decode()


# --- The booker's name, once --------------------------------------------------------------


def test_the_booker_is_adult_one_and_types_their_name_once(client):
    offer = make_offer(price_cents=4500)
    html = page(client, offer)
    box = re.search(r'<input[^>]*name="booker_takes_part"[^>]*>', html)
    assert box and "checked" in box.group(0)
    assert 'data-testid="booker-participant"' in html
    assert 'name="p0_first_name"' not in html  # adult 1 is the booker


def test_a_booking_with_the_booker_taking_part_names_them_as_adult_one(client):
    offer = make_offer(price_cents=4500)
    data = booking_post(
        offer.sessions.first(),
        booker_takes_part="on",
        booker_takes_part_shown="1",
        p0_first_name=None,
        p0_last_name=None,
    )
    response = client.post(url("offer-detail", slug=offer.slug), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    names = list(
        Participant.objects.order_by("pk").values_list("first_name", "last_name", "is_child")
    )
    assert names == [("Léa", "Martin", False), ("Hugo", "Martin", False), ("Zoé", "Martin", True)]


def test_a_booker_who_does_not_take_part_names_every_participant(client):
    offer = make_offer(price_cents=4500)
    response = client.get(
        url("offer-party", slug=offer.slug),
        {"adults": 1, "children": 1, "booker_takes_part_shown": "1"},  # box unticked
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert 'name="p0_first_name"' in body and 'name="p1_first_name"' in body
    assert 'data-testid="booker-participant"' not in body


def test_only_children_means_no_booker_row(client):
    offer = make_offer(price_cents=4500)
    response = client.get(
        url("offer-party", slug=offer.slug),
        {"adults": 0, "children": 2, "booker_takes_part": "on", "booker_takes_part_shown": "1"},
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert 'name="p0_first_name"' in body and 'name="p1_first_name"' in body
    assert 'data-testid="booker-participant"' not in body


# --- Places left, before submitting -------------------------------------------------------


def test_places_left_follow_the_party_as_it_grows(client):
    offer = make_offer(sessions=0)
    session = make_session(offer, capacity=8, taken=5)
    party = url("offer-party", slug=offer.slug)
    small = client.get(
        party, {"session": session.pk, "adults": 2}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "3 places left on this date." in small
    assert 'id="seats-note"' in small and 'hx-swap-oob="true"' in small
    big = client.get(
        party, {"session": session.pk, "adults": 4}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "Only 3 places left on this date" in big
    assert "seats-note--over" in big


def test_no_date_chosen_says_nothing_about_places(client):
    offer = make_offer()
    body = client.get(
        url("offer-party", slug=offer.slug), {"adults": 2}, headers={"HX-Request": "true"}
    ).content.decode()
    assert re.search(r'<p class="seats-note" id="seats-note"[^>]*>\s*</p>', body)


# --- Error summary ------------------------------------------------------------------------


def test_the_error_summary_names_and_links_each_field(client):
    offer = make_offer()
    response = client.post(url("offer-detail", slug=offer.slug), {"adults": 1})
    html = response.content.decode()
    summary = html.split('id="form-errors"')[1].split("</div>")[0]
    assert '<a href="#id_first_name">First name</a>' in summary
    assert '<a href="#id_email">Email</a>' in summary
    assert '<a href="#session-field">Date</a>' in summary
    assert 'id="session-field"' in html


# --- A short page whatever the number of dates ---------------------------------------------


def test_many_dates_fold_behind_more_dates(client):
    offer = make_offer(sessions=20)
    html = page(client, offer)
    assert html.count('class="session-choice"') == 20
    first, rest = html.split('<details class="more-dates"')
    assert first.count('class="session-choice"') == 6
    assert "14 more dates" in rest
    assert rest.split(">")[0].strip() == ""  # closed: nothing chosen among them


def test_a_chosen_later_date_opens_more_dates(client):
    offer = make_offer(sessions=10)
    later = offer.sessions.order_by("starts_at")[8]
    data = booking_post(later, email="")  # invalid: the form is drawn again
    html = client.post(url("offer-detail", slug=offer.slug), data).content.decode()
    assert '<details class="more-dates" open>' in html


# --- Words, not "units" --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "label"),
    [
        (Offer.Kind.STAY, "Rooms"),
        (Offer.Kind.RENTAL, "Equipment sets"),
        (Offer.Kind.PASS, "Passes"),
    ],
)
def test_per_unit_offers_name_what_is_booked(client, kind, label):
    offer = make_offer(kind=kind, pricing=Offer.Pricing.PER_UNIT, names=False)
    html = page(client, offer)
    assert f'<label for="id_units">{label}' in html
    assert ">Units" not in html


# --- A cancelled booking asks for nothing --------------------------------------------------


def test_a_cancelled_on_site_booking_shows_nothing_to_pay(client):
    offer = make_offer(price_cents=9800, names=False)
    booking = make_booking(offer.sessions.first())
    token = booking_signed_token(booking)
    before = client.get(url("booking-detail", token=token)).content.decode()
    assert "on site" in before
    services.booking_cancel(booking=booking, reason="test")
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    after = client.get(url("booking-detail", token=token)).content.decode()
    assert "on site" not in after
    assert 'data-testid="nothing-to-pay"' in after


# --- The desk's date list has a label ----------------------------------------------------


def test_the_desk_date_select_is_labelled(client, school):
    offer = make_offer(partner=school)
    client.force_login(
        MembershipFactory(
            partner=school, role=Membership.Role.AGENT, user=UserFactory(language="en")
        ).user
    )
    with translation.override("en"):
        html = client.get(
            reverse("bookings_desk:create", kwargs={"slug": offer.slug})
        ).content.decode()
    assert '<label for="id_session">' in html
    assert '<select name="session" id="id_session"' in html
