"""Newsletter pages: blocks rendered to MJML in the one branded layout, compiled by the
pipeline, in each recipient's language, previewed at two widths, never publicly routed."""

from __future__ import annotations

import pytest

from newsletters import rendering
from newsletters.pages import (
    NewsletterPage,
    newsletter_email_name,
    newsletter_revisions,
    recipient_language,
)
from tests.factories import OfferFactory, PartnerFactory, SessionFactory
from tests.newsletters.campaign_helpers import newsletter_site

pytestmark = pytest.mark.django_db

VALUES = {
    "first_name": "Anne <b>",
    "unsubscribe_url": "https://u.example/x",
    "preferences_url": "https://www.val.example/newsletters/preferences/abc:def/",
}


def test_a_newsletter_compiles_through_the_pipeline_with_the_story_and_no_mjml_left():
    ns = newsletter_site()
    revisions = newsletter_revisions(ns.page)
    compiled = rendering.email_compile(
        name=newsletter_email_name(revisions["en"]), language="en", kind="marketing"
    )
    out = compiled.personalise(VALUES)
    assert out.subject == "Snow is here"
    assert "<mj-" not in out.html and rendering.html_lint(out.html) == []
    assert "Story 0" in out.html and "The intro of story 0." in out.html
    assert "Anne &lt;b&gt;" in out.html  # the first name is escaped
    assert "https://u.example/x" in out.html  # the unsubscribe footer of marketing
    assert "Story 0" in out.text and "Plan your stay: https://plan.example/" in out.text
    assert "Hello Anne <b>," in out.text
    # Compiled once: the second ask is the cached object.
    again = rendering.email_compile(
        name=newsletter_email_name(revisions["en"]), language="en", kind="marketing"
    )
    assert again is compiled


def test_each_language_gets_its_translation_and_a_missing_one_falls_back_to_the_default():
    ns = newsletter_site()
    revisions = newsletter_revisions(ns.page)
    assert set(revisions) == {"en", "fr"}
    assert revisions["fr"] == ns.fr_page.live_revision_id
    fr = rendering.email_compile(
        name=newsletter_email_name(revisions["fr"]), language="fr", kind="marketing"
    ).personalise(VALUES)
    assert fr.subject == "La neige est là"
    assert "Les remontées ouvrent." in fr.html
    assert "Bonjour" in fr.html  # the layout's strings in French too

    ns.fr_page.unpublish()
    page = NewsletterPage.objects.get(pk=ns.page.pk)
    fallback = newsletter_revisions(page)
    assert fallback["fr"] == page.live_revision_id
    assert recipient_language("de") == "en" and recipient_language("fr-CA") == "fr"


def test_an_offer_teaser_shows_the_live_offer_its_next_dates_and_price():
    ns = newsletter_site(translate=False)
    offer = OfferFactory(
        partner=PartnerFactory(name="ESF"),
        title_en="Private lesson",
        price_cents=4500,
        is_published=True,
    )
    SessionFactory(offer=offer, days=5)
    page = ns.page
    page.body.append(("offer_teaser", {"offer": str(offer.pk), "text": "Learn fast."}))
    page.save_revision().publish()
    html = page.email_preview_html(language="en")
    assert "Private lesson" in html and "45.00" in html and "ESF" in html
    assert f"/book/{offer.slug}/" in html
    offer.is_published = False
    offer.save()
    assert "Private lesson" not in page.email_preview_html(language="en")


def test_links_of_a_campaign_email_are_tracked_but_not_the_unsubscribe_link(settings):
    settings.ROOT_URLCONF = "tests.newsletters.tracking_urls"
    ns = newsletter_site(translate=False)
    compiled = rendering.email_compile(
        name=newsletter_email_name(ns.page.live_revision_id), language="en", kind="marketing"
    )
    assert compiled.link_plan is not None
    out = compiled.personalise(VALUES, tracking_ref="abc123")
    assert "https://plan.example/" not in out.html  # behind the signed redirector
    assert "/t/c/" in out.html and "/t/o/" in out.html
    assert 'href="https://u.example/x"' in out.html  # unsubscribe untouched
    assert f'href="{VALUES["preferences_url"]}"' in out.html  # the preference centre too
    # Transactional (a test send) is not tracked.
    test = rendering.email_compile(
        name=newsletter_email_name(ns.page.live_revision_id), language="en", kind="transactional"
    )
    assert test.link_plan is None


def test_newsletters_are_not_public_web_pages(client):
    ns = newsletter_site(translate=False)
    assert client.get("/newsletters/december/").status_code == 404
    assert ns.page.get_url() is None or client.get(ns.page.get_url()).status_code == 404
    assert not ns.page.show_in_menus and not ns.index.show_in_menus


def test_the_admin_previews_the_email_at_desktop_and_phone_width(admin_client):
    ns = newsletter_site(translate=False)
    sizes = {s["name"]: s["device_width"] for s in ns.page.preview_sizes}
    assert sizes == {"desktop": 800, "mobile": 375}
    response = admin_client.get(f"/cms/pages/{ns.page.pk}/edit/")
    assert response.status_code == 200
    assert b"Preview at phone width" in response.content
    html = ns.page.email_preview_html()
    assert "Camille" in html and "<mj-" not in html


def test_links_stay_as_written_where_the_click_redirector_is_not_mounted(settings):
    settings.ROOT_URLCONF = "tests.newsletters.untracked_urls"
    assert not rendering.click_route_wired()
    ns = newsletter_site(translate=False)
    compiled = rendering.email_compile(
        name=newsletter_email_name(ns.page.live_revision_id), language="en", kind="marketing"
    )
    assert compiled.link_plan is None
    assert "https://plan.example/" in compiled.personalise(VALUES, tracking_ref="r").html
