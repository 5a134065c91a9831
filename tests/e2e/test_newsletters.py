"""Newsletters in a real browser: an editor composes a newsletter from stories in Wagtail,
previews it, sends a test to themselves; the marketing team's campaign report shows its
progress. Screenshots: the newsletter at desktop and phone width, the campaign report."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.cache import cache
from playwright.sync_api import Page as Browser
from playwright.sync_api import expect
from wagtail.models import Locale, Page

from content.models import StoryPage
from newsletters.models import Campaign, Message, NewsletterIndexPage, NewsletterPage, Segment
from tests.e2e.helpers import axe_violations, seed_site_for_browser, staff_sign_in
from tests.factories import GuestFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def site_with_stories(live_server, settings):
    seed_site_for_browser(live_server, stories=3)
    settings.NEWSLETTER_SITE_URL = live_server.url
    root = Page.get_first_root_node()
    index = NewsletterIndexPage(
        title="Newsletters", slug="newsletters", locale=Locale.get_default()
    )
    root.add_child(instance=index)
    index.save_revision().publish()
    yield index
    cache.clear()


def test_an_editor_composes_previews_and_tests_a_newsletter(
    live_server, page: Browser, site_with_stories, screenshot
):
    index = site_with_stories
    story = StoryPage.objects.filter(locale__language_code="en").live().order_by("pk").first()
    editor = UserFactory(email="marketing@destination.example", first_name="Camille")
    editor.is_superuser = True
    editor.is_staff = True
    editor.save()
    staff_sign_in(page, live_server, editor)
    page.goto(f"{live_server.url}/cms/pages/add/newsletters/newsletterpage/{index.pk}/")
    page.fill("#id_title", "December on the slopes")
    page.fill("#id_subject", "Fresh snow and our stories")
    page.fill("#id_preheader", "Three reads for the first powder day")
    page.get_by_role("button", name="Insert a block").first.click()
    page.get_by_role("option", name="Introduction").click()
    page.locator("input[name$='-value-heading']").first.fill("Winter is here")
    page.locator("textarea[name$='-value-text']").first.fill("The lifts open on Saturday.")
    page.get_by_role("button", name="Insert a block").last.click()
    page.get_by_role("option", name="Story teaser").click()
    page.get_by_role("button", name=re.compile("Choose a page|Choose story")).last.click()
    modal = page.locator(".modal-content")
    modal.locator("input[name=q]").fill(story.title)
    modal.get_by_role("link", name=story.title).first.click()
    expect(page.locator(".chooser__title").last).to_have_text(story.title)
    page.get_by_role("button", name="Save draft").click()
    expect(page).to_have_url(re.compile(r"/cms/pages/\d+/edit/"), timeout=20000)
    page.locator(".w-dropdown--dropdown-button [data-w-dropdown-target=toggle]").click()
    page.get_by_role("button", name="Save and send a test to me").click()
    page.wait_for_load_state()
    newsletter = None
    for _attempt in range(30):
        newsletter = NewsletterPage.objects.filter(title="December on the slopes").first()
        if newsletter is not None and Message.objects.filter(source="test").exists():
            break
        page.wait_for_timeout(500)
    assert newsletter is not None
    test = Message.objects.get(source="test")
    assert test.address == "marketing@destination.example"
    assert test.kind == "transactional"
    expect(page.locator(".messages")).to_contain_text("test of this version")
    # The test arrived (locmem backend, the live server runs in this process).
    for _attempt in range(30):
        if Message.objects.filter(source="test", status="sent").exists():
            break
        page.wait_for_timeout(500)
    [arrived] = [m for m in mail.outbox if m.to == ["marketing@destination.example"]]
    assert arrived.subject == "Fresh snow and our stories"
    assert "Winter is here" in arrived.alternatives[0].content
    assert story.title in arrived.body

    # The preview panel offers both widths; the email itself at desktop and phone width.
    page.goto(f"{live_server.url}/cms/pages/{newsletter.pk}/edit/")
    page.get_by_role("button", name=re.compile("Toggle preview|Preview")).first.click()
    expect(page.get_by_label("Preview at phone width (375 px)")).to_be_attached()
    html = NewsletterPage.objects.get(pk=newsletter.pk).get_latest_revision_as_object()
    body = html.email_preview_html()
    assert story.title in body
    for name, width in (("newsletter-desktop", 800), ("newsletter-phone", 375)):
        page.set_viewport_size({"width": width, "height": 900})
        page.set_content(body)
        page.wait_for_timeout(300)
        screenshot(page, name)

    # A campaign report with its progress.
    newsletter = NewsletterPage.objects.get(pk=newsletter.pk)
    newsletter.save_revision().publish()
    segment = Segment.objects.create(name="Everyone", rules={"all": []})
    campaign = Campaign.objects.create(
        name="December newsletter", page=newsletter, segment=segment, status="sending"
    )
    states = ["sent"] * 12 + ["queued"] * 5 + ["skipped"] * 3 + ["failed"]
    for n, status in enumerate(states):
        guest = GuestFactory()
        Message.objects.create(
            source="campaign",
            kind="marketing",
            purpose="newsletter",
            dedupe_key=f"campaign:{campaign.pk}:guest:{guest.pk}",
            guest=guest,
            address=f"g{n}@example.org",
            language="en",
            template="newsletter:1",
            status=status,
            skip_reason="no_consent" if status == "skipped" else "",
            sent_at=campaign.created_at if status == "sent" else None,
        )
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/cms/newsletters/campaigns/{campaign.pk}/report/")
    expect(page.locator("[data-count=sent]")).to_have_text("12")
    expect(page.locator("[data-skipped]")).to_contain_text("No marketing consent at send time: 3")
    screenshot(page, "campaign-report")
    assert axe_violations(page, include="main") == []
    page.goto(f"{live_server.url}/cms/snippets/newsletters/campaign/")
    expect(page.get_by_role("link", name="December newsletter").first).to_be_visible()
    assert axe_violations(page, include="main") == []
