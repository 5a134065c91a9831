"""The public site and the editors' Wagtail in headless Chromium: axe-core finds no serious or
critical violation on the site's main pages, a phone visitor opens the menu and finds booking,
and an editor sees a stale French translation on the dashboard, the listing and the editor.
Takes the screenshots of the screens these changed (docs/screenshots/)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page as Browser
from playwright.sync_api import expect
from wagtail.models import Locale

from bookings.models import Offer
from content.models import StoryIndexPage, StoryPage
from tests.e2e.helpers import (
    axe_violations,
    offer_with_sessions_make,
    seed_site_for_browser,
    staff_sign_in,
)
from tests.factories import PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def site(live_server, settings):
    seed_site_for_browser(live_server, stories=4)
    school = PartnerFactory(name="École des Sommets", kind="ski_school")
    shop = PartnerFactory(name="Neige Sport Location", kind="equipment_rental")
    for partner, kind, title, price in [
        (school, Offer.Kind.GROUP_LESSON, "Beginners' group, mornings", 18900),
        (school, Offer.Kind.PRIVATE_LESSON, "Private lesson, two hours", 9800),
        (shop, Offer.Kind.RENTAL, "Ski pack, six days", 12000),
        (shop, Offer.Kind.PASS, "Six-day lift pass", 28000),
    ]:
        offer_with_sessions_make(partner, kind=kind, title_en=title, price_cents=price)
    return live_server


def _story_with_image() -> StoryPage:
    for story in StoryPage.objects.live().filter(locale__language_code="en").order_by("-date"):
        if any(block.block_type == "image" for block in story.body):
            return story
    raise AssertionError("the demo has a story with an image block")


def test_site_pages_have_no_serious_or_critical_axe_violation(site, page: Browser, screenshot):
    story = _story_with_image()
    pages = {
        "home": "/en/",
        "story": story.url,
        "story index": StoryIndexPage.objects.get(locale__language_code="en").url,
        "event index": "/en/events/",
        "offer page (ski lessons)": "/en/ski-lessons/",
        "catalogue": "/en/book/",
        "home (French)": "/fr/",
    }
    found = {}
    for name, path in pages.items():
        response = page.goto(f"{site.url}{path}")
        assert response.status == 200, (name, path)
        found[name] = axe_violations(page)
    # The phone layout, menu open: what a visitor on a phone reads.
    page.set_viewport_size(PHONE)
    page.goto(f"{site.url}/en/")
    page.get_by_role("button", name="Menu").click()
    found["home (phone, menu open)"] = axe_violations(page)
    assert {name: v for name, v in found.items() if v} == {}


def test_the_ski_lessons_page_lists_the_private_lesson(site, page: Browser):
    page.goto(f"{site.url}/en/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Ski lessons").click()
    expect(page.locator("h1")).to_have_text("Ski lessons")
    expect(page.locator(".offer-grid")).to_contain_text("Private lesson, two hours")
    expect(page.locator(".offer-grid")).to_contain_text("Beginners' group, mornings")
    expect(page.locator(".offer-grid")).not_to_contain_text("Ski pack")


def test_a_phone_visitor_opens_the_menu_and_books(site, page: Browser, screenshot):
    page.set_viewport_size(PHONE)
    page.goto(f"{site.url}/en/")
    button = page.get_by_role("button", name="Menu")
    nav = page.get_by_role("navigation", name="Main")
    expect(button).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()
    screenshot(page, "site-home-phone")

    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(nav).to_be_visible()
    # Every item whole on screen: no sideways row cut at "Ski le...".
    for link in nav.get_by_role("link").all():
        box = link.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], link
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(SCREENSHOTS / "site-home-phone-menu.png"))

    page.keyboard.press("Escape")
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(button).to_be_focused()
    expect(nav).to_be_hidden()

    button.click()
    nav.get_by_role("link", name="Book").click()
    expect(page).to_have_url(re.compile(r"/en/book/$"))
    expect(page.locator("main")).to_contain_text("Six-day lift pass")


def test_without_javascript_the_navigation_simply_shows(site, browser):
    context = browser.new_context(viewport=PHONE, java_script_enabled=False, locale="en-GB")
    page = context.new_page()
    page.goto(f"{site.url}/en/")
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Book")).to_be_visible()
    expect(nav.get_by_role("link", name="Ski lessons")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    context.close()


def test_the_home_page_leads_to_every_kind_of_offer(site, page: Browser, screenshot):
    page.goto(f"{site.url}/en/")
    section = page.locator("section", has=page.locator("#home-book"))
    for heading in ("Group ski lessons", "Private lessons", "Lift passes", "Equipment rental"):
        expect(section.get_by_role("link", name=heading)).to_be_visible()
    screenshot(page, "site-home")
    section.get_by_role("link", name="Lift passes").click()
    expect(page).to_have_url(re.compile(r"/en/book/\?kind=pass$"))
    expect(page.locator("main")).to_contain_text("Six-day lift pass")
    expect(page.locator("main")).not_to_contain_text("Ski pack")


def test_story_image_credits_name_the_brand_and_are_readable(site, page: Browser, screenshot):
    from destination.models import Destination

    story = _story_with_image()
    page.goto(f"{site.url}{story.url}")
    credit = page.locator(".sb-image .credit").first
    expect(credit).to_have_text(f"© {Destination.load().brand_name}")
    assert axe_violations(page, include=".sb-image") == []
    screenshot(page, "site-story")
    credit.scroll_into_view_if_needed()
    page.locator(".sb-image").first.screenshot(path=str(SCREENSHOTS / "site-story-credit.png"))


def test_an_editor_sees_the_brand_and_a_stale_translation(site, page: Browser, screenshot):
    editor = UserFactory(is_staff=True, is_superuser=True, first_name="Camille")
    staff_sign_in(page, site, editor)
    index = StoryIndexPage.objects.get(locale__language_code="en")
    from destination.models import Destination

    brand = Destination.load().brand_name

    # The English stories index changes and is published; the French one has not been synced.
    index.intro = "Stories from the valley, written by the people who live here all year."
    index.save_revision(user=editor).publish(user=editor)

    page.goto(f"{site.url}/cms/")
    expect(page).to_have_title(re.compile(f"{re.escape(brand)}$"))
    expect(page.locator("h1").first).to_have_text(brand)
    for heading in (
        "Pages waiting for approval",
        "Translations to sync",
        "Recent stories",
        "Upcoming events",
    ):
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
    assert page.locator("img[src*=gravatar]").count() == 0
    panels = [
        axe_violations(page, include=f"[id^=dashboard-{name}]")
        for name in ("awaiting-approval", "stale-translations", "recent-stories", "upcoming-events")
    ]
    assert panels == [[], [], [], []]
    # Wagtail's admin scrolls inside its layout: a taller window shows every panel.
    page.set_viewport_size({"width": 1366, "height": 1500})
    screenshot(page, "wagtail-dashboard")
    page.set_viewport_size({"width": 1366, "height": 900})

    page.goto(f"{site.url}/cms/pages/{index.get_parent().pk}/")
    warning = page.locator("[data-translation-sync=stale]")
    expect(warning).to_have_count(1)
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("Translation out of date: French")
    screenshot(page, "wagtail-page-listing-out-of-date")

    french = index.get_translation(Locale.objects.get(language_code="fr"))
    page.goto(f"{site.url}/cms/pages/{french.get_parent().pk}/")
    expect(page.locator("[data-translation-sync=stale]")).to_contain_text(
        "Out of date: the source page changed"
    )
    page.goto(f"{site.url}/cms/pages/{french.pk}/edit/")
    expect(page.locator(".messages")).to_contain_text("its latest changes are not here yet")
    screenshot(page, "wagtail-editor-out-of-date")
    page.locator(".messages").get_by_role("link", name="Sync now").click()
    expect(page).to_have_url(re.compile(r"/cms/localize/update/\d+/"))
