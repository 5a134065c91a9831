"""axe-core over the booking desk and the admin pages an operator uses, in Chromium.

Our pages (the desk's list, new booking, the booking form, a booking, the guest's page as the
desk, the demo outbox) must have no serious or critical violation. On Django's and Wagtail's own
admin pages only what we put there is checked (the Wagtail dashboard's panels of
``content/wagtail_hooks.py``); what axe says of the rest is printed (``-s``) and left to those
projects. Seen on 2 December 2026: the Django admin index had none; Wagtail 8's dashboard had
none outside our panels either.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from bookings.models import Booking
from partners.models import Membership, Partner
from tests.e2e.helpers import (
    DESKTOP,
    axe_violations,
    offer_with_sessions_make,
    seed_site_for_browser,
    staff_sign_in,
)
from tests.factories import (
    GuestEmailFactory,
    MembershipFactory,
    PartnerFactory,
    UserFactory,
    book,
    person,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def axe_page(browser: Browser):
    # axe goes in through the DevTools protocol (helpers.axe_violations): the site's CSP stays.
    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    yield context.new_page()
    context.close()


@pytest.fixture
def desk(settings):
    """The booking desk, a ski school's lesson with dates, a booking the desk made."""
    settings.STRIPE_SECRET_KEY = ""  # pay on site
    desk = PartnerFactory(name="Val Neige Réservations", kind=Partner.Kind.BOOKING_DESK)
    school = PartnerFactory(name="École des Sommets", kind=Partner.Kind.SKI_SCHOOL)
    offer = offer_with_sessions_make(school, title_en="Group ski lesson, mornings")
    agent = MembershipFactory(
        partner=desk, role=Membership.Role.AGENT, user=UserFactory(language="en")
    ).user
    booking = book(
        offer.sessions.order_by("starts_at").first(),
        booker=person(first_name="Jeanne", last_name="Martin", language="en"),
        language="en",
        channel=Booking.Channel.DESK,
        created_by=agent,
    )
    return {"desk": desk, "offer": offer, "agent": agent, "booking": booking}


def _report(where: str, violations: list[dict]) -> str:
    return f"axe on {where}:\n" + "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']} {v['nodes']}" for v in violations
    )


def test_the_desk_pages_have_no_serious_or_critical_axe_violation(
    live_server, axe_page: Page, desk
):
    page = axe_page
    staff_sign_in(page, live_server, desk["agent"])
    booking = desk["booking"]
    pages = {
        "desk booking list": "/en/portal/bookings/",
        "desk new booking": "/en/portal/bookings/new/",
        "desk booking form": f"/en/portal/bookings/new/{desk['offer'].slug}/",
        "desk booking": f"/en/portal/bookings/{booking.reference}/",
        "guest page as the desk": f"/en/portal/guests/{booking.booker_id}/",
        "portal search": "/en/portal/?q=Martin",
    }
    failures = []
    for name, path in pages.items():
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 200, (name, path)
        expect(page.locator("main")).to_be_visible()
        violations = axe_violations(page)
        if violations:
            failures.append(_report(name, violations))
    # The booking form with a party of three filled in (the price follows over htmx).
    page.goto(f"{live_server.url}/en/portal/bookings/new/{desk['offer'].slug}/")
    page.get_by_label("Adults").fill("3")
    page.get_by_label("Adults").blur()
    expect(page.get_by_test_id("quote-total")).not_to_have_text("€100")
    violations = axe_violations(page)
    if violations:
        failures.append(_report("desk booking form with a party", violations))
    assert not failures, "\n".join(failures)


def test_the_admin_pages_we_add_to_have_no_serious_or_critical_axe_violation(
    live_server, axe_page: Page, desk
):
    page = axe_page
    seed_site_for_browser(live_server, stories=2)  # Wagtail's tree, which the flush emptied
    GuestEmailFactory(email="lea@mail.example")
    operator = UserFactory(is_superuser=True, is_staff=True, language="en")
    staff_sign_in(page, live_server, operator)
    failures = []

    # Our own operator page: all of it.
    page.goto(f"{live_server.url}/outbox/")
    expect(page.get_by_role("heading", name="Emails sent by the demo")).to_be_visible()
    link = page.get_by_role("link", name=re.compile("confirmed"))
    expect(link.first).to_be_visible()
    if violations := axe_violations(page):
        failures.append(_report("outbox list", violations))
    link.first.click()
    expect(page.get_by_role("heading", name="As the guest sees it")).to_be_visible()
    if violations := axe_violations(page):
        failures.append(_report("outbox email", violations))

    # Wagtail's dashboard: our panels are checked, the rest is Wagtail's (printed only).
    page.goto(f"{live_server.url}/cms/")
    expect(page.locator(".w-panel--dashboard").first).to_be_attached()
    if violations := axe_violations(page, include=".w-panel--dashboard"):
        failures.append(_report("Wagtail dashboard, our panels", violations))
    print(_report("Wagtail dashboard, whole page (Wagtail's)", axe_violations(page)))

    # Django's admin index and a changelist: nothing of ours; printed for the record.
    for path in ("/django-admin/", "/django-admin/destination/guest/"):
        page.goto(f"{live_server.url}{path}")
        print(_report(f"Django admin {path} (Django's)", axe_violations(page)))
    assert not failures, "\n".join(failures)
