"""Offer pages list live bookable offers from the bookings catalogue with a "Book" button."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from bookings.models import Offer, Session
from content.models import OfferPage
from tests.content.helpers import page_queries, publish
from tests.factories import PartnerFactory
from tests.queries import assert_at_most, assert_same_num_queries

pytestmark = pytest.mark.django_db


def _offer(partner, slug: str, *, kind=Offer.Kind.GROUP_LESSON, published=True, sessions=()):
    offer = Offer.objects.create(
        partner=partner,
        kind=kind,
        slug=slug,
        title_en=f"Offer {slug}",
        title_fr=f"Offre {slug}",
        price_cents=8950,
        is_published=published,
    )
    for days, capacity, taken in sessions:
        start = timezone.now() + dt.timedelta(days=days)
        Session.objects.create(
            offer=offer,
            starts_at=start,
            ends_at=start + dt.timedelta(hours=2),
            capacity=capacity,
            seats_taken=taken,
        )
    return offer


@pytest.fixture
def offer_page(demo_site):
    return publish(
        demo_site.home,
        OfferPage(title="Ski lessons", slug="lessons", offer_kind=Offer.Kind.GROUP_LESSON),
    )


def test_only_live_bookable_offers_of_the_chosen_kind_are_listed(client, offer_page):
    school = PartnerFactory()
    _offer(school, "open", sessions=[(2, 10, 3), (9, 4, 0), (-3, 10, 0)])
    _offer(school, "sold-out", sessions=[(2, 2, 2)])
    _offer(school, "draft", published=False, sessions=[(2, 10, 0)])
    _offer(school, "past", sessions=[(-2, 10, 0)])
    _offer(school, "stay", kind=Offer.Kind.STAY, sessions=[(2, 10, 0)])
    closed = PartnerFactory(is_active=False)
    _offer(closed, "closed-partner", sessions=[(2, 10, 0)])

    html = client.get(offer_page.url).text

    assert "Offer open" in html
    assert "11 places left" in html  # the upcoming sessions only
    assert "from €89.50" in html
    assert 'href="/en/book/open/"' in html
    for hidden in ("sold-out", "draft", "past", "stay", "closed-partner"):
        assert f"Offer {hidden}<" not in html, hidden


def test_a_partner_filter_and_the_empty_state(client, demo_site):
    school, other = PartnerFactory(), PartnerFactory()
    _offer(school, "mine", kind=Offer.Kind.RENTAL, sessions=[(1, 3, 0)])
    _offer(other, "theirs", kind=Offer.Kind.RENTAL, sessions=[(1, 3, 0)])
    page = publish(demo_site.home, OfferPage(title="Rentals", slug="rentals", partner=school))
    html = client.get(page.url).text
    assert "Offer mine" in html and "Offer theirs" not in html
    empty = publish(demo_site.home, OfferPage(title="Passes", slug="passes", offer_kind="pass"))
    assert "No offer is open for booking right now" in client.get(empty.url).text


def test_offer_page_costs_the_same_with_2_or_8_offers(client, offer_page):
    school = PartnerFactory()
    for n in range(2):
        _offer(school, f"a{n}", sessions=[(n + 1, 5, 0), (n + 2, 5, 1)])
    with_two = page_queries(client, offer_page.url)
    for n in range(6):
        _offer(PartnerFactory(), f"b{n}", sessions=[(n + 1, 5, 0)])
    assert_same_num_queries(with_two, page_queries(client, offer_page.url))
    assert_at_most(with_two, 15)
