"""What a new agent and the tourist office trip over in their first week (issue 13), in Chromium:
a typo fix keeps a Spanish guest's language, a saved interaction clears the error of an empty
submit, the duplicates queue pages and goes on with the next pair with "Undo" at hand, the
portal fits a phone, speaks the reader's language, and axe finds no serious or critical
violation on its pages. Saves the screenshots of the screens changed (docs/screenshots/)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from destination.models import Guest, PossibleDuplicate, TimelineEvent
from destination.services.timeline import timeline_add
from partners.services import partner_guest_link_touch
from tests.e2e.axe_check import assert_no_serious_axe_violations, axe_violations
from tests.e2e.helpers import DESKTOP, staff_sign_in
from tests.portal.world import World, guest_make, world_build

pytestmark = pytest.mark.django_db(transaction=True)

PHONE_375 = {"width": 375, "height": 812}
LONG_EMAIL = "maria.del.carmen.fernandez-rodriguez.reservations@very-long-company-name.example"


def console_errors(page: Page) -> list[str]:
    """Console errors (htmx logs its own, e.g. htmx:oobErrorNoTarget), page errors and failed
    requests, the favicon's aside (the shared site's favicon is another item of issue 13)."""
    errors: list[str] = []

    def on_console(msg) -> None:
        if "Failed to load resource" in msg.text:
            return  # reported with its URL by on_response
        if msg.type == "error" or "htmx:" in msg.text:
            errors.append(msg.text)

    def on_response(response) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            errors.append(f"{response.status} {response.url}")

    page.on("console", on_console)
    page.on("response", on_response)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def spanish_guest(world: World) -> Guest:
    lucia = guest_make(
        "Lucía", "Garcai", email=LONG_EMAIL, phone="+34612345678", country="ES",
        language="es", birth_date=dt.date(1988, 4, 2),
    )  # fmt: skip
    partner_guest_link_touch(partner=world.school, guest=lucia, reason="interaction")
    return lucia


def no_sideways_scroll(page: Page) -> None:
    overflow = page.evaluate(
        """() => {
            const width = document.documentElement.clientWidth;
            const wide = [...document.querySelectorAll("body *")].filter(
                el => el.getBoundingClientRect().right > width + 1 && el.offsetParent !== null
            ).slice(0, 5).map(el => el.tagName + "." + el.className);
            return {scroll: document.documentElement.scrollWidth, width, wide};
        }"""
    )
    assert overflow["scroll"] <= overflow["width"], overflow


def unique_ids(page: Page) -> None:
    duplicated = page.evaluate(
        """() => {
            const seen = {};
            document.querySelectorAll("[id]").forEach(el => seen[el.id] = (seen[el.id] || 0) + 1);
            return Object.keys(seen).filter(id => seen[id] > 1);
        }"""
    )
    assert duplicated == [], duplicated


def test_a_typo_fix_keeps_the_language_and_a_saved_interaction_clears_the_form(
    live_server, page: Page, screenshot
):
    world = world_build()
    lucia = spanish_guest(world)
    errors = console_errors(page)
    staff_sign_in(page, live_server, world.school_agent)

    # The identity form offers Spanish and shows it; fixing the last name keeps it.
    page.goto(f"{live_server.url}/en/portal/guests/{lucia.pk}/")
    page.get_by_text("Correct the identity or interests").click()
    identity = page.locator(".identity-form")
    expect(identity.get_by_label("Language")).to_have_value("es")
    expect(identity.get_by_label("Birth date")).to_have_value("1988-04-02")
    identity.get_by_label("Last name").fill("Garcia")
    identity.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Identity saved.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Lucía Garcia")
    expect(page.locator(".guest-head__meta")).to_contain_text("Speaks Spanish")
    lucia.refresh_from_db()
    assert (lucia.last_name, lucia.language, lucia.birth_date) == (
        "Garcia",
        "es",
        dt.date(1988, 4, 2),
    )

    # An empty submit shows its error; the next, saved interaction clears it.
    empty_note = page.locator("#timeline-empty")
    expect(empty_note).to_be_visible()  # nothing on her timeline yet
    page.get_by_role("button", name="Log interaction").click()
    expect(page.locator("#log-form .errorlist")).to_contain_text("required")
    page.get_by_label("Summary").fill("Asked for a Spanish-speaking instructor.")
    page.get_by_role("button", name="Log interaction").click()
    expect(page.locator("#timeline-list li").first).to_contain_text("Spanish-speaking")
    expect(page.locator("#log-form .errorlist")).to_have_count(0)
    expect(page.locator("#log-form .field--error")).to_have_count(0)
    expect(page.get_by_label("Summary")).to_have_value("")
    expect(page.get_by_label("Summary")).to_be_focused()
    expect(empty_note).to_be_hidden()
    # Once more on a timeline that has entries (no empty note to hide): no htmx error either.
    page.get_by_label("Summary").fill("Booked the lesson for Saturday.")
    page.get_by_role("button", name="Log interaction").click()
    expect(page.locator("#timeline-list li")).to_have_count(2)
    page.goto(f"{live_server.url}/en/portal/guests/{world.jeanne.pk}/")
    page.get_by_label("Summary").fill("Called about the lesson times.")
    page.get_by_role("button", name="Log interaction").click()
    expect(page.locator("#timeline-list li").first).to_contain_text("lesson times")
    assert errors == []

    # The long address stays inside the contact card; one id per element.
    page.goto(f"{live_server.url}/en/portal/guests/{lucia.pk}/")
    unique_ids(page)
    card = page.locator("#contact-card").bounding_box()
    for item in page.locator("#contact-card .contact-list li").all():
        box = item.bounding_box()
        assert box["x"] + box["width"] <= card["x"] + card["width"] + 0.5
    # The active screen of the navigation is marked, in a contrast axe accepts (see below).
    page.mouse.move(0, 0)
    screenshot(page, "portal-guest-long-address")
    page.set_viewport_size(PHONE_375)
    no_sideways_scroll(page)
    screenshot(page, "portal-guest-phone")
    page.set_viewport_size(DESKTOP)


def pairs_make(world: World, count: int) -> list[PossibleDuplicate]:
    pairs = []
    for i in range(count):
        a = guest_make(f"Anna{i}", "Keller", country="CH", birth_date=dt.date(1970, 1, 1))
        b = guest_make(f"Ana{i}", "Keller", country="CH", birth_date=dt.date(1970, 1, 1))
        pairs.append(
            PossibleDuplicate.objects.create(
                guest_a=a, guest_b=b, score=0.80 - i / 1000, reasons=["name", "birth_date"]
            )
        )
    return pairs


def test_the_duplicates_queue_pages_goes_on_and_undoes(live_server, page: Page, screenshot):
    world = world_build()
    mother = guest_make(
        "Sophie", "Brun", email="famille.brun@gmail.com", country="FR",
        birth_date=dt.date(1972, 5, 3),
    )  # fmt: skip
    daughter = guest_make(
        "Léa", "Brun", email="famille.brun@gmail.com", country="FR",
        birth_date=dt.date(2004, 9, 14),
    )  # fmt: skip
    PossibleDuplicate.objects.create(
        guest_a=mother, guest_b=daughter, score=0.9, reasons=["email", "birth_date_differs"]
    )
    pairs_make(world, 30)
    total = PossibleDuplicate.objects.filter(status="open").count()
    staff_sign_in(page, live_server, world.office_manager)

    page.goto(f"{live_server.url}/en/portal/duplicates/")
    expect(page.locator("main")).to_contain_text(f"{total} pairs waiting")
    expect(page.locator(".pager")).to_contain_text("Page 1 of 2")
    # The household (issue 14): one row of its own, opened with "Compare".
    household = page.locator(".dup--household").first
    expect(household).to_contain_text("Sophie Brun")
    expect(household).to_contain_text("Household?")
    expect(household).to_contain_text("Same email address")
    expect(household).not_to_contain_text("90 %")
    expect(page.locator("a.dup").first).to_contain_text("Same birth date")
    first = household.get_by_role("link", name="Compare")
    screenshot(page, "portal-duplicates-list")
    page.set_viewport_size(PHONE_375)
    no_sideways_scroll(page)
    screenshot(page, "portal-duplicates-list-phone")
    page.set_viewport_size(DESKTOP)
    page.get_by_role("link", name=re.compile("Next")).click()
    expect(page.locator(".pager")).to_contain_text("Page 2 of 2")
    page.get_by_role("link", name=re.compile("Previous")).click()

    # The household: not the same person; the next pair opens.
    first.click()
    expect(page.locator(".reasons")).to_contain_text("Household?")
    page.get_by_role("button", name="Not the same person").click()
    expect(page.locator(".messages")).to_contain_text("Marked as two different people")
    expect(page.get_by_role("heading", level=1)).to_have_text("Same person?")
    expect(page.locator("table.compare")).to_contain_text("Lefèvre")  # the next most likely

    # A merge: the next pair, with the confirmation and its Undo.
    page.get_by_role("button", name="Merge").click()
    confirmation = page.locator(".merge-done")
    expect(confirmation).to_contain_text("Merged: guest #")
    expect(page.locator("table.compare")).to_contain_text("Ana0")
    screenshot(page, "portal-duplicates-next")
    page.set_viewport_size(PHONE_375)
    no_sideways_scroll(page)
    screenshot(page, "portal-duplicates-next-phone")
    page.set_viewport_size(DESKTOP)
    confirmation.get_by_role("button", name="Undo the merge").click()
    expect(page.locator(".messages")).to_contain_text("Merge undone")
    expect(page.locator("table.compare")).to_contain_text("Ana0")  # still in front
    assert not Guest.objects.filter(status="merged").exists()


def test_the_french_portal_and_the_language_asked_for(live_server, page: Page, screenshot):
    world = world_build()
    jeanne = world.jeanne
    now = timezone.now()
    timeline_add(
        guest=jeanne, kind=TimelineEvent.Kind.BOOKING, occurred_at=now - dt.timedelta(hours=2),
        title="Booking confirmed VN-ESF042: Group lesson, Dec. 8, 2026", partner=world.school,
        data={"booking": 1, "reference": "VN-ESF042", "status": "confirmed"},
    )  # fmt: skip
    world.school_agent.language = "fr"
    world.school_agent.save(update_fields=["language"])

    # Signing in on an English sign-in page: the portal and its message speak French.
    page.goto(f"{live_server.url}/en/portal/")
    page.fill("input[name=login]", world.school_agent.email)
    page.fill("input[name=password]", "correct horse battery")
    page.locator("form button[type=submit]").last.click()
    expect(page).to_have_url(re.compile(r"/fr/portal/$"))
    expect(page.locator(".messages")).to_contain_text("Connexion avec")
    expect(page.get_by_role("heading", level=1)).to_have_text("Trouver un client")

    page.goto(f"{live_server.url}/fr/portal/guests/{jeanne.pk}/")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text(
        "Réservation confirmée VN-ESF042 : Group lesson, 8 décembre 2026"
    )
    expect(timeline).to_contain_text("Consentement donné")
    expect(timeline).to_contain_text("Demande")  # an interaction, by its kind
    expect(page.locator(".guest-head__meta")).to_contain_text("Famille")  # interest tag
    expect(page.locator(".guest-head__meta")).to_contain_text("Ski")
    page.mouse.move(0, 0)
    screenshot(page, "portal-guest-fr")

    # Asked for in English, the portal stays in English (the remembered language is French).
    page.goto(f"{live_server.url}/en/portal/")
    expect(page).to_have_url(re.compile(r"/en/portal/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Find a guest")
    page.goto(f"{live_server.url}/en/portal/guests/{jeanne.pk}/")
    expect(page).to_have_url(re.compile(rf"/en/portal/guests/{jeanne.pk}/$"))
    expect(page.locator("#timeline")).to_contain_text("Booking confirmed VN-ESF042")


@pytest.fixture
def axe_page(browser: Browser):
    """A page whose content security policy lets axe's script in (the portal's CSP may not)."""
    context = browser.new_context(viewport=DESKTOP, locale="en-GB", bypass_csp=True)
    yield context.new_page()
    context.close()


def test_the_axe_helper_fails_on_a_serious_violation(axe_page: Page):
    """The check can fail: an image without text and white on a light blue (like the old
    active navigation item) are reported."""
    axe_page.set_content(
        '<html lang="en"><head><title>t</title></head><body><main><h1>t</h1>'
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
        '<a href="#" style="background:#4180bf;color:#fff">Guests</a></main></body></html>'
    )
    found = {v["id"] for v in axe_violations(axe_page)}
    assert {"image-alt", "color-contrast"} <= found


def test_axe_finds_no_serious_violation_on_the_portal(live_server, axe_page: Page):
    page = axe_page
    world = world_build()
    lucia = spanish_guest(world)
    base = live_server.url

    staff_sign_in(page, live_server, world.school_agent)
    agent_pages = [
        ("search", f"{base}/en/portal/?q=jeanne"),
        ("guest page, agent", f"{base}/en/portal/guests/{world.jeanne.pk}/"),
        ("guest page, long address", f"{base}/en/portal/guests/{lucia.pk}/"),
        ("new guest", f"{base}/en/portal/guests/new/"),
        ("French search", f"{base}/fr/portal/?q=martin"),
    ]
    for where, url in agent_pages:
        page.goto(url)
        assert_no_serious_axe_violations(page, where)
        unique_ids(page)
        page.set_viewport_size(PHONE_375)
        no_sideways_scroll(page)
        page.set_viewport_size(DESKTOP)
    # The guest page's forms opened (identity, consent) and after an empty submit.
    page.goto(f"{base}/en/portal/guests/{lucia.pk}/")
    page.get_by_text("Correct the identity or interests").click()
    expect(page.locator(".identity-form")).to_be_visible()
    page.get_by_role("button", name="Log interaction").click()
    expect(page.locator("#log-form .errorlist")).to_be_visible()
    assert_no_serious_axe_violations(page, "guest page with its forms open")
    unique_ids(page)

    page.context.clear_cookies()
    staff_sign_in(page, live_server, world.office_manager)
    manager_pages = [
        ("guest page, manager", f"{base}/en/portal/guests/{world.jeanne.pk}/"),
        ("duplicates", f"{base}/en/portal/duplicates/"),
        ("duplicate pair", f"{base}/en/portal/duplicates/{world.pair.pk}/"),
        ("erase confirmation", f"{base}/en/portal/guests/{world.jeanne.pk}/erase/"),
    ]
    for where, url in manager_pages:
        page.goto(url)
        assert_no_serious_axe_violations(page, where)
        unique_ids(page)
        page.set_viewport_size(PHONE_375)
        no_sideways_scroll(page)
        page.set_viewport_size(DESKTOP)

    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    assert_no_serious_axe_violations(page, "sign in")
