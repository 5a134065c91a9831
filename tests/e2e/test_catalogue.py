"""A ski school's manager writes a new offer in the portal, adds a week of dates, closes one
date down to the places sold, publishes it, and a visitor finds it on the booking pages."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from bookings.models import Offer
from partners.models import Membership, Partner
from partners.sharing import sharing_rules_ensure
from tests.bookings.web_helpers import make_booking, make_offer
from tests.e2e.helpers import staff_sign_in
from tests.factories import MembershipFactory, PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_manager_publishes_an_offer_with_a_week_of_dates(live_server, page: Page, screenshot):
    sharing_rules_ensure()
    school = PartnerFactory(name="École de Ski Val Neige", kind=Partner.Kind.SKI_SCHOOL)
    make_offer(partner=school, title_en="Group ski lesson, beginners", sessions=2)
    manager = MembershipFactory(
        partner=school, role=Membership.Role.MANAGER, user=UserFactory(language="en")
    ).user
    staff_sign_in(page, live_server, manager)

    page.goto(f"{live_server.url}/en/portal/")
    page.get_by_role("link", name="Offers", exact=True).click()
    expect(page.get_by_role("heading", name="Offers", exact=True)).to_be_visible()
    page.get_by_role("link", name="New offer").click()

    # A first try without a price: the field says what is wrong and nothing is saved.
    page.get_by_label("Kind").select_option("group_lesson")
    page.get_by_label("Title (English)").fill("Snowboard freestyle morning")
    page.get_by_label("Title (French)").fill("Matinée snowboard freestyle")
    page.get_by_label("Description (English)").fill("Kickers and rails in the snow park.")
    page.get_by_role("button", name="Create the offer").click()
    expect(page.locator("#id_price_error")).to_contain_text("This field is required.")
    assert not Offer.objects.filter(title_en="Snowboard freestyle morning").exists()

    page.get_by_label("Price (EUR)", exact=True).fill("64")
    page.get_by_label("Ask for each participant's name").check()
    page.get_by_role("button", name="Create the offer").click()
    expect(page.get_by_text("Offer created. Now add its dates.")).to_be_visible()
    expect(page.get_by_text("No upcoming dates")).to_be_visible()
    offer = Offer.objects.get(title_en="Snowboard freestyle morning")
    assert offer.partner == school and not offer.is_published

    # A week of mornings, Monday to Friday.
    today = timezone.localdate()
    monday = today + dt.timedelta(days=7 - today.weekday())
    page.get_by_label("First day").fill(monday.isoformat())
    page.get_by_label("Last day").fill((monday + dt.timedelta(days=6)).isoformat())
    page.get_by_label("Sat").uncheck()
    page.get_by_label("Sun").uncheck()
    page.get_by_label("Starts at").fill("09:30")
    page.get_by_label("Ends at").fill("12:00")
    page.get_by_label("Capacity", exact=True).last.fill("6")
    page.get_by_role("button", name="Add these dates").click()
    expect(page.get_by_text("5 sessions added.")).to_be_visible()
    expect(page.locator(".offer-sessions tbody tr")).to_have_count(5)

    page.get_by_label("Published on the website").check()
    page.get_by_role("button", name="Save the offer").click()
    expect(page.get_by_text("Offer saved.")).to_be_visible()

    # Two places sold on Monday; the school tries to close it down to one, then to two.
    monday_session = offer.sessions.order_by("starts_at").first()
    make_booking(monday_session, adults=2)
    page.reload()
    row = page.locator(f"#session-{monday_session.pk}")
    row.get_by_label("Capacity").fill("1")
    row.get_by_role("button", name="Save").click()
    expect(page.locator(f"#session-{monday_session.pk}")).to_contain_text(
        "2 places are already booked"
    )
    row = page.locator(f"#session-{monday_session.pk}")
    row.get_by_label("Capacity").fill("2")
    row.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Capacity saved.")).to_be_visible()
    # A date with bookings cannot be deleted; the others can.
    expect(page.locator(f"#session-{monday_session.pk}")).to_contain_text("1 booking")
    expect(
        page.locator(f"#session-{monday_session.pk}").get_by_role("button", name="Delete")
    ).to_have_count(0)

    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "portal-offer-edit")
    page.get_by_role("link", name="Offers", exact=True).first.click()
    expect(page.locator("main")).to_contain_text("2 / 26")  # 2 places of 2, plus 4 dates of 6
    screenshot(page, "portal-offers")

    # A visitor finds it; Monday is full, the other four mornings are bookable.
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/en/book/")
    page.get_by_role("link", name="Snowboard freestyle morning").click()
    expect(page.get_by_role("heading", name="Snowboard freestyle morning")).to_be_visible()
    expect(page.locator("input[name=session]")).to_have_count(4)
    expect(page).to_have_url(re.compile(rf"/en/book/{offer.slug}/$"))
