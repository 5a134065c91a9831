"""The website in a real browser: an editor publishes a story from Wagtail's admin and it reaches
both language trees; a visitor signs up from a story and confirms by the emailed link. Also takes
the README's screenshots of the home page and a story, at desktop and phone widths."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.cache import cache
from django.utils.text import slugify
from playwright.sync_api import Page as Browser
from playwright.sync_api import expect
from wagtail.models import Locale

from content.models import NewsletterSignup, StoryIndexPage, StoryPage
from content.services import editorial_groups_ensure, page_translate
from destination.consent_selectors import consent_is_granted
from destination.models import Channel, Guest, Purpose
from tests.e2e.helpers import PHONE, seed_site_for_browser
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct horse battery"


@pytest.fixture
def seeded_site(live_server, page: Browser, settings):
    """The demo site (a few stories), with the Site's address set to the live server's, as a
    deployment sets it to its public address: canonical links and emailed links use it.

    Transactional tests flush what data migrations created (Wagtail's root page and root
    collection, locales), so the fixture puts those back first."""
    seed_site_for_browser(live_server, stories=4)
    yield
    cache.clear()


def test_an_editor_publishes_a_story_that_reaches_both_language_trees(
    live_server, page: Browser, seeded_site
):
    editor = UserFactory(email="camille@destination.example", first_name="Camille")
    editor.groups.add(editorial_groups_ensure()["Moderators"])
    editor.user_permissions.add(Permission.objects.get(codename="access_admin"))
    index = StoryIndexPage.objects.get(locale__language_code="en")

    page.goto(f"{live_server.url}/cms/login/")
    page.fill("input[name=username]", editor.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/cms/$"))

    page.goto(f"{live_server.url}/cms/pages/add/content/storypage/{index.pk}/")
    title = "Night skiing under the full moon"
    page.fill("#id_title", title)
    page.fill("#id_intro", "Floodlights off, headlamps on: the pistes at midnight.")
    page.select_option("#id_theme", "skiing")
    page.fill("#id_date", "2026-11-20")
    page.fill("#id_author_name", "Camille")
    page.get_by_role("button", name="Insert a block").first.click()
    page.get_by_role("option", name="Paragraph").click()
    editor_box = page.locator(".Draftail-Editor [contenteditable=true]").first
    editor_box.click()
    editor_box.type("The moon rose over the ridge as the last chairlift stopped.")
    expect(editor_box).to_contain_text("The moon rose over the ridge")
    # Draftail writes its content to the form's hidden input after a short debounce.
    page.wait_for_timeout(800)
    page.locator("#id_author_name").click()
    expect(page.locator("#id_slug")).to_have_value(slugify(title))
    page.locator("button.dropdown-toggle, [data-w-dropdown-target=toggle]").last.click()
    page.get_by_role("button", name=re.compile("^Publish")).click()
    page.wait_for_load_state()
    errors = page.locator(".w-field--error, .error-message").all_inner_texts()
    assert errors == [], errors
    # Not the success message: under load Chromium may resend the POST on a reused connection
    # the live server closed, and the resent one fails on the slug the first one took.
    story = None
    for _attempt in range(30):
        story = StoryPage.objects.filter(title=title, locale__language_code="en").first()
        if story is not None and story.live:
            break
        page.wait_for_timeout(500)
    assert story is not None
    assert story.live
    page.goto(f"{live_server.url}{story.url}")
    expect(page.locator("h1")).to_have_text(title)
    expect(page.locator(".stream")).to_contain_text("The moon rose over the ridge")

    # The French tree is synchronised from the English one: the story is there at once, as an
    # alias showing the English text until it is translated.
    french = story.get_translation(Locale.objects.get(language_code="fr"))
    assert french.alias_of_id == story.pk and french.live
    page.goto(f"{live_server.url}{french.url}")
    expect(page.locator("h1")).to_have_text(title)
    assert french.url.startswith("/fr/recits/")

    # A translator's work (wagtail-localize's editor or a PO file) turns it into French.
    page_translate(
        page=story,
        locale=french.locale,
        strings={
            title: "Ski nocturne sous la pleine lune",
            "Floodlights off, headlamps on: the pistes at midnight.": (
                "Projecteurs éteints, frontales allumées : les pistes à minuit."
            ),
            "The moon rose over the ridge as the last chairlift stopped.": (
                "La lune s'est levée sur la crête quand le dernier télésiège s'est arrêté."
            ),
            slugify(title): "ski-nocturne-sous-la-pleine-lune",
        },
    )
    french.refresh_from_db()
    assert french.alias_of_id is None
    page.goto(f"{live_server.url}{french.url}")
    expect(page.locator("h1")).to_have_text("Ski nocturne sous la pleine lune")
    expect(page.locator(".stream")).to_contain_text("La lune s'est levée sur la crête")
    page.goto(f"{live_server.url}/fr/recits/")
    expect(page.locator("main")).to_contain_text("Ski nocturne sous la pleine lune")


def test_a_visitor_signs_up_from_a_story_and_confirms_by_email(
    live_server, page: Browser, seeded_site, screenshot
):
    story = StoryPage.objects.filter(locale__language_code="en").order_by("-date").first()

    page.goto(f"{live_server.url}/en/")
    screenshot(page, "site-home")
    page.goto(f"{live_server.url}{story.url}")
    screenshot(page, "site-story")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/en/")
    screenshot(page, "site-home-phone")
    page.goto(f"{live_server.url}{story.url}")
    screenshot(page, "site-story-phone")

    block = page.locator(".sb-newsletter form")
    block.locator("input[type=email]").fill("noemie@mail.example")
    block.locator("summary").click()
    block.locator("select[name=language]").select_option("fr")
    block.get_by_label("Family").check()
    block.get_by_role("button", name="Subscribe").click()
    expect(page.locator("h1")).to_have_text("Check your inbox")
    assert not Guest.objects.exists()

    (message,) = mail.outbox
    assert message.to == ["noemie@mail.example"]
    link = re.search(r"https?://\S+/newsletter/confirm/\S+/", message.body).group(0)
    assert link.startswith(f"{live_server.url}/fr/")  # the language chosen in the form
    page.goto(link)
    page.get_by_role("button", name="Confirmer mon inscription").click()
    expect(page.locator("h1")).to_have_text("Vous êtes inscrit")

    guest = Guest.objects.get()
    assert consent_is_granted(guest=guest, purpose=Purpose.NEWSLETTER, channel=Channel.EMAIL)
    signup = NewsletterSignup.objects.get()
    assert signup.status == NewsletterSignup.Status.CONFIRMED
    # The story's absolute address (its host comes from Wagtail's cached site root paths, which
    # in this live-server run can still hold the seed's address: only the path is compared).
    assert signup.proof.evidence["page_url"].endswith(story.url)
    assert list(guest.tags.values_list("slug", flat=True)) == ["family"]
