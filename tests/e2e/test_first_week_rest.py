"""The rest of issue 13 in Chromium: the desk's "New guest" keeps every guest language, the GDPR
export reads as a page of the portal (and the data-protection officer downloads the complete
one), the operator reads the emails the demo sent, and axe finds no serious or critical
violation on the booking desk and the admin pages the product adds. Saves the screenshots of
the screens changed (docs/screenshots/)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group, Permission
from playwright.sync_api import Browser, Page, expect

from destination.models import AuditEntry, Guest
from partners.models import Membership
from tests.e2e.axe_check import assert_no_serious_axe_violations
from tests.e2e.helpers import DESKTOP, staff_sign_in
from tests.factories import MembershipFactory
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


def test_the_data_protection_officer_reads_the_complete_export_from_the_portal(
    live_server, axe_page: Page, screenshot
):
    page = axe_page
    world = world_build()
    dpo = MembershipFactory(partner=world.office, role=Membership.Role.AGENT).user
    dpo.groups.add(Group.objects.get_or_create(name="Data protection officer")[0])
    dpo.groups.get().permissions.add(Permission.objects.get(codename="export_complete_guest_data"))
    staff_sign_in(page, live_server, dpo)
    page.goto(f"{live_server.url}/en/portal/guests/{world.jeanne.pk}/")
    page.get_by_role("link", name="Complete export (subject-access request)").click()
    # The reason first: the request this export answers, kept on the audit row.
    expect(page.get_by_role("heading", name="Complete export", level=1)).to_be_visible()
    assert_no_serious_axe_violations(page, "complete export, reason")
    page.get_by_label("Reason for the complete export").fill("SAR-2026-014")
    page.get_by_role("button", name="Show the complete export").click()

    expect(page.get_by_role("heading", name="Complete export", level=1)).to_be_visible()
    for landmark in ("banner", "main", "navigation"):
        expect(page.get_by_role(landmark).first).to_be_attached()
    identity = page.locator("section", has=page.get_by_role("heading", name="Identity", exact=True))
    expect(identity).to_contain_text("March 12, 1984")
    expect(identity).not_to_contain_text("1984-03-12")
    expect(page.locator("main")).not_to_contain_text("a.m..")
    expect(page.locator("main")).not_to_contain_text("p.m..")
    expect(page.locator("main")).to_contain_text("SAR-2026-014")
    entry = AuditEntry.objects.get(guest=world.jeanne, action=AuditEntry.Action.EXPORT)
    assert (entry.actor, entry.details["scope"], entry.details["reason"]) == (
        dpo,
        "full",
        "SAR-2026-014",
    )
    download = page.get_by_role("link", name="Download as JSON")
    assert "reason=SAR-2026-014" in (download.get_attribute("href") or "")
    assert_no_serious_axe_violations(page, "complete export")
    screenshot(page, "gdpr-export")
    page.get_by_role("link", name="Back to the guest's page").click()
    expect(page).to_have_url(re.compile(rf"/en/portal/guests/{world.jeanne.pk}/$"))


def test_a_manager_reads_the_partner_scoped_export(live_server, axe_page: Page, screenshot):
    page = axe_page
    world = world_build()
    staff_sign_in(page, live_server, world.office_manager)
    page.goto(f"{live_server.url}/gdpr/guests/{world.jeanne.pk}/export/")
    heading = f"Partner-scoped export for {world.office.name}"
    expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
    # The portal's navigation, as on its other pages; sections named for people.
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(
        page.get_by_role("heading", name="Current consents")
        .or_(page.get_by_role("heading", name="Consents"))
        .first
    ).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("consent_states")
    expect(page.locator("main")).not_to_contain_text("birth_date")  # the sections it opens
    assert_no_serious_axe_violations(page, "partner-scoped export")
    screenshot(page, "gdpr-export-partner")
