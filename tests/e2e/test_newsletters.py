"""Newsletters in a real browser: an editor composes a newsletter from stories in Wagtail,
previews it, sends a test to themselves; the marketing team's campaign report shows its
progress. Screenshots: the newsletter at desktop and phone width, the campaign report."""

from __future__ import annotations

import datetime as dt
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


def _campaign_messages(
    campaign: Campaign,
    states: list[str],
    *,
    address: str,
    skip_reason: str,
    sent_at: dt.datetime,
) -> list[Message]:
    """One message per state, each to a new guest, as the campaign's snapshot writes them."""
    messages = []
    for n, status in enumerate(states):
        guest = GuestFactory()
        messages.append(
            Message.objects.create(
                source="campaign",
                kind="marketing",
                purpose="newsletter",
                dedupe_key=f"campaign:{campaign.pk}:guest:{guest.pk}",
                guest=guest,
                address=address.format(n=n),
                language="en",
                template="newsletter:1",
                status=status,
                skip_reason=skip_reason if status == "skipped" else "",
                sent_at=sent_at if status == "sent" else None,
            )
        )
    return messages


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
    _campaign_messages(
        campaign,
        ["sent"] * 12 + ["queued"] * 5 + ["skipped"] * 3 + ["failed"],
        address="g{n}@example.org",
        skip_reason="no_consent",
        sent_at=campaign.created_at,
    )
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/cms/newsletters/campaigns/{campaign.pk}/report/")
    expect(page.locator("[data-count=sent]")).to_have_text("12")
    expect(page.locator("[data-skipped]")).to_contain_text("No marketing consent at send time: 3")
    # (The screenshot "campaign-report" is the next test's, with what people did.)
    assert axe_violations(page, include="main") == []
    page.goto(f"{live_server.url}/cms/snippets/newsletters/campaign/")
    expect(page.get_by_role("link", name="December newsletter").first).to_be_visible()
    assert axe_violations(page, include="main") == []


def test_the_campaign_report_tells_people_from_machines(
    live_server, page: Browser, site_with_stories, screenshot, settings
):
    """A campaign's report with its progress and what people did: human opens and clicks,
    machine events apart (the headless browser's own click through the real redirector among
    them), unsubscribes, bounces, complaints and revenue per partner."""

    from django.utils import timezone

    from bookings.models import Booking
    from newsletters.models import Suppression, TrackingCount, TrackingHit
    from newsletters.tracking import click_url
    from newsletters.tracking_record import tracking_hits_settle
    from tests.factories import BookingFactory, PartnerFactory

    settings.NEWSLETTER_TRACKING_BASE_URL = live_server.url
    index = site_with_stories
    newsletter = NewsletterPage(title="January", slug="january", subject="Powder days", body=[])
    index.add_child(instance=newsletter)
    newsletter.save_revision().publish()
    segment = Segment.objects.create(name="Skiers", rules={"all": []})
    campaign = Campaign.objects.create(
        name="January newsletter", page=newsletter, segment=segment, status="sending"
    )
    sent_at = timezone.now() - dt.timedelta(days=3)
    messages = _campaign_messages(
        campaign,
        ["sent"] * 16 + ["queued"] * 3 + ["skipped"] * 2,
        address="skier{n}@example.org",
        skip_reason="frequency_cap",
        sent_at=sent_at,
    )
    urls = [
        "https://www.val-neige.example/offers/ski-week/",
        "https://www.val-neige.example/events/",
    ]
    for n, message in enumerate(messages[:6]):
        for link in (1, 2)[: 1 + n % 2]:
            TrackingHit.objects.create(
                message=message, campaign=campaign, kind="click", link_index=link,
                url=urls[link - 1], verdict="human", reason="no_machine_signal",
                at=sent_at + dt.timedelta(hours=n + 1), settled=True,
            )  # fmt: skip
    for message in messages[6:9]:  # a security gateway: the trap and every link in a second
        for link in (0, 1, 2):
            TrackingHit.objects.create(
                message=message, campaign=campaign, kind="click", link_index=link,
                url=urls[link - 1] if link else live_server.url + "/",
                verdict="machine", reason="trap_link" if link == 0 else "link_burst",
                at=sent_at + dt.timedelta(seconds=4), settled=True,
            )  # fmt: skip
    for verdict, reason, count in (
        ("human", "no_machine_signal", 7),
        ("human", "image_proxy", 3),
        ("machine", "apple_privacy_prefetch", 4),
    ):
        TrackingCount.objects.create(
            scope=f"campaign:{campaign.pk}", campaign=campaign, kind="open",
            verdict=verdict, reason=reason, count=count,
        )  # fmt: skip
    Suppression.objects.create(address=messages[10].address, reason="bounce")
    Suppression.objects.create(address=messages[11].address, reason="complaint")
    chalet = PartnerFactory(name="Chalet des Cimes")
    for message, cents in ((messages[0], 84000), (messages[1], 12000)):
        booking = BookingFactory(booker=message.guest, session__offer__partner=chalet)
        Booking.objects.filter(pk=booking.pk).update(
            created_at=sent_at + dt.timedelta(days=1), total_cents=cents
        )

    # This headless browser clicks a tracked link for real: redirected, recorded, a machine.
    target = live_server.url + "/en/"
    page.goto(click_url(messages[12].uuid.hex, 3, target))
    expect(page).to_have_url(re.compile(r"/en/"))
    hit = TrackingHit.objects.get(message=messages[12])
    assert (hit.verdict, hit.reason) == ("machine", "bot_agent")  # HeadlessChrome
    tracking_hits_settle(now=timezone.now() + dt.timedelta(minutes=1))

    editor = UserFactory(email="marketing@destination.example", first_name="Camille")
    editor.is_superuser = True
    editor.is_staff = True
    editor.save()
    staff_sign_in(page, live_server, editor)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/cms/newsletters/campaigns/{campaign.pk}/report/")
    expect(page.locator("[data-count=sent]")).to_have_text("16")
    expect(page.locator("[data-figure=human_clicks_unique]")).to_have_text("6")
    expect(page.locator("[data-figure=machine_clicks]")).to_have_text("10")
    expect(page.locator("[data-figure=human_opens]")).to_have_text("10")
    expect(page.locator("[data-figure=bounced]")).to_have_text("1")
    expect(page.locator(".tracking-report")).to_contain_text("Chalet des Cimes")
    expect(page.locator(".tracking-report")).to_contain_text("robot or script")
    # Wagtail scrolls inside its layout: a viewport as tall as the report shows all of it.
    height = page.evaluate("document.querySelector('.campaign-report').scrollHeight")
    page.set_viewport_size({"width": 1366, "height": int(height) + 160})
    screenshot(page, "campaign-report")
    assert axe_violations(page, include="main") == []
