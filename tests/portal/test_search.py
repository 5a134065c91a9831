"""Search as you type: names with typos, emails, phones in any format; only what the acting
partner may see; a constant number of queries."""

import datetime as dt

import pytest
from django.core.signals import request_started
from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bookings.models import Booking, Offer, Session
from destination.models import TimelineEvent, Visibility
from partners.models import Section, SharingRule
from portal.selectors import portal_search
from tests.factories import (
    GuestEmailFactory,
    GuestFactory,
    GuestPhoneFactory,
    PartnerGuestLinkFactory,
)

pytestmark = pytest.mark.django_db


def booking_make(partner, guest, *, days: int, status: str = "confirmed") -> Booking:
    """A booking of ``guest`` with ``partner`` whose session starts ``days`` from now."""
    start = (timezone.now() + dt.timedelta(days=days)).replace(microsecond=0)
    offer = Offer.objects.create(
        partner=partner, kind=Offer.Kind.GROUP_LESSON, slug=f"offer-{Offer.objects.count()}",
        title_en="Group lesson", price_cents=5000,
    )  # fmt: skip
    session = Session.objects.create(
        offer=offer, starts_at=start, ends_at=start + dt.timedelta(hours=3), capacity=10
    )
    return Booking.objects.create(
        reference=f"R{Booking.objects.count():06d}", session=session, partner=partner,
        booker=guest, status=status, seats=1, total_cents=5000,
        payment_method=Booking.PaymentMethod.ON_SITE, channel=Booking.Channel.DESK,
        hold_expires_at=start if status == "held" else None,
    )  # fmt: skip


@pytest.fixture
def jeanne(guest):
    GuestEmailFactory(
        guest=guest, email="Jeanne.Martin@Gmail.com", email_normalized="jeanne.martin@gmail.com"
    )
    GuestPhoneFactory(guest=guest, phone="+33612345678")
    return guest


@pytest.mark.parametrize(
    "typed",
    ["06 12 34 56 78", "0612345678", "+33 6 12 34 56 78", "0033612345678", "06.12.34.56.78"],
)
def test_phone_in_any_format(school, jeanne, typed):
    assert [r.guest_id for r in portal_search(partner=school, query=typed)] == [jeanne.pk]


def test_email_any_case_and_name_with_a_typo(school, jeanne):
    assert [
        r.guest_id for r in portal_search(partner=school, query=" JEANNE.martin@gmail.com ")
    ] == [jeanne.pk]
    assert jeanne.pk in [r.guest_id for r in portal_search(partner=school, query="jeane martin")]


def test_too_short_or_empty_query_returns_nothing(school, jeanne):
    assert portal_search(partner=school, query="j") == []
    assert portal_search(partner=school, query="   ") == []


def test_results_carry_what_tells_people_apart(school, rental, jeanne):
    PartnerGuestLinkFactory(partner=rental, guest=jeanne)
    PartnerGuestLinkFactory(partner=school, guest=jeanne)
    booking_make(school, jeanne, days=-30)
    [result] = portal_search(partner=school, query="+33612345678")
    assert result.name == "Jeanne Martin"
    assert result.country.code == "FR" and result.language == "fr"
    assert result.email_hint == "j•••n@gmail.com" and result.phone_hint == "+33 ••• ••• 678"
    assert result.last_stay is not None
    assert result.known_to_you
    # The school only knows the guest (RELATED): who else knows them is the shared story.
    assert result.partners_known == ["Ski School Alpha"]


def test_steward_sees_every_partner_that_knows_the_guest(office, school, rental, jeanne):
    PartnerGuestLinkFactory(partner=rental, guest=jeanne)
    PartnerGuestLinkFactory(partner=school, guest=jeanne)
    [result] = portal_search(partner=office, query="+33612345678")
    assert result.partners_known == ["Rental Beta", "Ski School Alpha"]


def test_last_stay_is_the_latest_stay_that_began(school, jeanne):
    began = booking_make(school, jeanne, days=-10)
    booking_make(school, jeanne, days=-60, status=Booking.Status.COMPLETED)
    booking_make(school, jeanne, days=-40, status=Booking.Status.CHECKED_IN)
    # Not stays: cancelled, refunded, expired, an unpaid hold; and one still to come.
    for days, status in ((-5, "cancelled"), (-4, "refunded"), (-3, "expired"), (-2, "held")):
        booking_make(school, jeanne, days=days, status=status)
    booking_make(school, jeanne, days=20)
    # A booking-kind timeline entry written later (a cancellation) moves nothing.
    TimelineEvent.objects.create(
        guest=jeanne, kind="booking", occurred_at=timezone.now(), title="Booking cancelled",
        partner=school, visibility=Visibility.SHARED,
    )  # fmt: skip
    [result] = portal_search(partner=school, query="+33612345678")
    assert result.last_stay == began.session.starts_at


def test_another_partners_stay_shows_only_where_bookings_are_open(school, rental, office, jeanne):
    PartnerGuestLinkFactory(partner=school, guest=jeanne)
    stay = booking_make(rental, jeanne, days=-8)
    SharingRule.objects.update(sections=[s for s in Section.values if s != Section.BOOKINGS])
    [closed] = portal_search(partner=school, query="+33612345678")
    assert closed.last_stay is None
    # The tourist office sees every booking (booking_list_for_partner), whatever its rules.
    [steward] = portal_search(partner=office, query="+33612345678")
    assert steward.last_stay == stay.session.starts_at
    SharingRule.objects.update(sections=list(Section.values))
    [opened] = portal_search(partner=school, query="+33612345678")
    assert opened.last_stay == stay.session.starts_at


def test_merged_and_erased_guests_are_not_found(school, jeanne):
    from destination.services.gdpr import guest_erase

    guest_erase(guest=jeanne, actor=None, reason="request")
    assert portal_search(partner=school, query="+33612345678") == []


def test_search_query_count_is_constant(client, agent, school):
    for i in range(12):
        g = GuestFactory(first_name="Jeanne", last_name=f"Martin{i}")
        GuestEmailFactory(guest=g)
        PartnerGuestLinkFactory(partner=school, guest=g)
        booking_make(school, g, days=-1 - i)  # each result has a last stay: still one query
    one = GuestFactory(first_name="Zoltan", last_name="Unique")
    GuestEmailFactory(guest=one)
    client.force_login(agent)
    path = reverse("portal:search")
    client.get(path + "?q=zoltan")

    def count(q: str) -> int:
        request_started.disconnect(reset_queries)
        try:
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(path, {"q": q})
        finally:
            request_started.connect(reset_queries)
        assert response.status_code == 200
        return len(ctx.captured_queries)

    few, many = count("zoltan unique"), count("jeanne martin")
    assert few == many and few >= 5, (few, many)


def test_search_endpoint_renders_links_to_profiles(client, agent, jeanne):
    client.force_login(agent)
    response = client.get(reverse("portal:search"), {"q": "06 12 34 56 78"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert f'href="/en/portal/guests/{jeanne.pk}/"' in html
    assert "<html" not in html  # a fragment for htmx
    assert (
        "No guest matches"
        in client.get(reverse("portal:search"), {"q": "Nobody Atall"}).content.decode()
    )


def test_results_name_the_query_they_answer_and_are_plain_links(client, agent, jeanne):
    # portal.js opens a result on Enter only when data-query is what the box holds now.
    client.force_login(agent)
    html = client.get(
        reverse("portal:search"), {"q": "  06 12 34 56 78 "}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'data-query="06 12 34 56 78"' in html
    # Links in a list: no listbox/option roles whose selection state is never kept up to date.
    assert 'role="listbox"' not in html and 'role="option"' not in html
    assert "aria-selected" not in html


def test_home_page_renders_results_without_javascript(client, agent, jeanne):
    client.force_login(agent)
    html = client.get(reverse("portal:home"), {"q": "0612345678"}).content.decode()
    assert "Jeanne Martin" in html and 'hx-get="/en/portal/search/"' in html
