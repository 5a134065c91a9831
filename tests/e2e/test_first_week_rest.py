"""The rest of issue 13 in Chromium: the desk's "New guest" keeps every guest language, the GDPR
export reads as a page of the portal (and the data-protection officer downloads the complete
one), the operator reads the emails the demo sent, and axe finds no serious or critical
violation on the booking desk and the admin pages the product adds. Saves the screenshots of
the screens changed (docs/screenshots/)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from destination.models import Guest
from tests.e2e.axe_check import assert_no_serious_axe_violations
from tests.e2e.helpers import DESKTOP, staff_sign_in
from tests.factories import UserFactory
from tests.portal.world import world_build

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def axe_page(browser: Browser):
    """A page whose content security policy lets axe's script in (the portal's CSP may not)."""
    context = browser.new_context(viewport=DESKTOP, locale="en-GB", bypass_csp=True)
    yield context.new_page()
    context.close()


def test_a_new_guest_may_speak_any_language_the_identity_form_offers(
    live_server, axe_page: Page, screenshot
):
    page = axe_page
    world = world_build()
    staff_sign_in(page, live_server, world.school_agent)
    page.goto(f"{live_server.url}/en/portal/guests/new/?q=Jonas Weber")
    language = page.get_by_label("Language")
    # The same groups as the identity correction: the main markets first, then the others.
    assert language.locator("optgroup").evaluate_all("els => els.map(e => e.label)") == [
        "Main languages",
        "Other languages",
    ]
    for name in ("German", "Spanish", "Italian", "Dutch", "Portuguese"):
        expect(language.locator("option", has_text=name).first).to_be_attached()
    language.select_option("de")
    page.get_by_label("Email").fill("jonas.weber@example.de")
    page.get_by_label("Country").select_option("DE")
    assert_no_serious_axe_violations(page, "new guest")
    page.get_by_role("button", name="Check and create").click()
    expect(page.locator(".guest-head__meta")).to_contain_text("Speaks German")
    assert Guest.objects.get(last_name="Weber").language == "de"
    page.goto(f"{live_server.url}/en/portal/guests/new/")
    page.get_by_label("Language").select_option("es")
    screenshot(page, "portal-guest-new-languages")


def test_the_export_page_writes_dates_as_people_read_them(live_server, page: Page, screenshot):
    world = world_build()
    superuser = UserFactory(is_superuser=True, is_staff=True)
    staff_sign_in(page, live_server, superuser)
    page.goto(f"{live_server.url}/gdpr/guests/{world.jeanne.pk}/export/")
    identity = page.locator("section", has=page.get_by_role("heading", name="Identity", exact=True))
    expect(identity).to_contain_text("March 12, 1984")
    expect(identity).not_to_contain_text("1984-03-12")
    screenshot(page, "gdpr-export")
