"""The partner portal in a real browser: sign in, search by a phone typed another way, open the
profile, log a private interaction; another partner does not see it; the tourist office merges
two duplicates and the old profile address lands on the survivor. Saves the screenshots the
README shows (docs/screenshots/portal-*.png)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from destination.models import Guest
from partners.models import Interaction
from tests.portal.world import PASSWORD, world_build

pytestmark = pytest.mark.django_db(transaction=True)


def sign_in(page: Page, base: str, email: str, shot=None) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/en/portal/")
    # Not signed in: allauth's sign-in page, then back to the portal.
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    if shot:
        shot(page, "portal-signin")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").last.click()
    expect(page).to_have_url(re.compile(r"/en/portal/$"))


def test_desk_search_private_interaction_isolation_and_merge(live_server, page: Page, screenshot):
    world = world_build()
    base = live_server.url
    secret = "Prefers a private instructor; allergic to nuts (private note)."

    # 1. The ski school's desk signs in and searches by a phone typed the national way.
    sign_in(page, base, world.school_agent.email, shot=screenshot)
    page.goto(f"{base}/en/portal/")
    search = page.get_by_label("Name, email or phone number")
    search.fill("06 12 34 56 78")
    first = page.locator("#search-results a.result").first
    expect(first).to_contain_text("Jeanne Martin")
    expect(page.locator("#search-results")).to_contain_text("France")
    # A name with a typo finds the person too (and her namesake, told apart by the details).
    search.fill("jeane martin")
    expect(page.locator("#search-results a.result").first).to_contain_text("Jeanne Martin")
    search.fill("jeanne")
    expect(page.locator("#search-results a.result")).to_have_count(2)
    screenshot(page, "portal-search")
    search.fill("+33 6 12 34 56 78")
    expect(page.locator("#search-results a.result")).to_have_count(1)
    # Enter while the list still answers an earlier query (as when the request for the new
    # text is pending) does not open that query's first result: the form searches the text.
    search.evaluate("el => { el.value = 'jeanne' }")  # no input event: no htmx request
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"/en/portal/\?q=jeanne$"))
    expect(page.locator("#search-results a.result")).to_have_count(2)
    search.fill("+33 6 12 34 56 78")
    expect(page.locator("#search-results a.result")).to_have_count(1)
    # Keyboard: arrow down to the result, Enter opens it.
    search.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/en/portal/guests/{world.jeanne.pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Jeanne Martin")

    # 2. Logs a PRIVATE interaction: it appears on the timeline at once, without a reload.
    page.get_by_label("Summary").fill(secret)
    page.get_by_label("What").select_option("request")
    page.get_by_label("Only my partner").check()
    page.get_by_role("button", name="Log interaction").click()
    entry = page.locator("#timeline-list li").first
    expect(entry).to_contain_text(secret)
    expect(entry).to_contain_text("Private")
    expect(page.get_by_label("Summary")).to_have_value("")
    assert Interaction.objects.get(summary=secret).visibility == "private"
    page.mouse.move(0, 0)
    page.wait_for_timeout(1800)  # the new entry's highlight fades
    screenshot(page, "portal-guest")
    # The desk tablet (portrait): one column, nothing cut off.
    page.set_viewport_size({"width": 820, "height": 1180})
    screenshot(page, "portal-guest-tablet")
    page.set_viewport_size({"width": 1366, "height": 900})

    # 2b. Corrects her language from the identity card: the form loads when opened, and the
    # page reloads with the change (the header shows it too).
    page.get_by_text("Correct the identity or interests").click()
    identity = page.locator(".identity-form")
    identity.get_by_label("Language").select_option("en")
    identity.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Identity saved.")
    expect(page.locator(".guest-head__meta")).to_contain_text("Speaks English")
    world.jeanne.refresh_from_db()
    assert world.jeanne.language == "en"

    # 3. Another partner's staff signs in and does not see it (shared entries they do see).
    sign_in(page, base, world.rental_agent.email)
    page.goto(f"{base}/en/portal/guests/{world.jeanne.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Jeanne Martin")
    expect(page.locator("#timeline")).to_contain_text("Asked about ski lessons")
    expect(page.locator("body")).not_to_contain_text("allergic to nuts")
    expect(page.locator("body")).not_to_contain_text("private instructor")

    # 4. The tourist office merges two duplicates; the old profile address lands on the survivor.
    sign_in(page, base, world.office_manager.email)
    page.get_by_role("link", name="Possible duplicates").click()
    page.locator("a.dup").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Same person?")
    survivor_id, merged_id = world.pair.guest_a_id, world.pair.guest_b_id
    screenshot(page, "portal-duplicates")
    page.get_by_role("button", name="Merge").click()
    expect(page).to_have_url(re.compile(rf"/en/portal/guests/{survivor_id}/$"))
    assert Guest.objects.get(pk=merged_id).merged_into_id == survivor_id
    page.goto(f"{base}/en/portal/guests/{merged_id}/")
    expect(page).to_have_url(re.compile(rf"/en/portal/guests/{survivor_id}/$"))
    expect(page.locator(".messages")).to_contain_text(f"#{merged_id} was merged")
    # The merged profile's phone and history are on the survivor now.
    expect(page.locator("#contact-card")).to_contain_text("+33698765432")
    expect(page.locator("#timeline")).to_contain_text("Rented skis")

    # 5. It was a mistake: the tourist office undoes the merge from the survivor's page.
    merges = page.get_by_role("region", name="Merged into this profile")
    expect(merges).to_contain_text(f"Guest #{merged_id}")
    page.on("dialog", lambda dialog: dialog.accept())  # "Separate guest #… again?"
    merges.get_by_role("button", name="Undo this merge").click()
    expect(page.locator(".messages")).to_contain_text("Merge undone")
    expect(page.locator("#contact-card")).not_to_contain_text("+33698765432")
    page.goto(f"{base}/en/portal/guests/{merged_id}/")
    expect(page).to_have_url(re.compile(rf"/en/portal/guests/{merged_id}/$"))
    expect(page.locator("#contact-card")).to_contain_text("+33698765432")
