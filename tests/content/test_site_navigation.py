"""A visitor finds booking from every page and the home page, the site's menu works without
inline script, image credits name the brand, and card headings follow the page's outline."""

from __future__ import annotations

import datetime as dt
import re
import time
from itertools import pairwise

import pytest
from django.utils import timezone

from bookings.models import Offer, Session
from content.models import LESSONS, OfferPage
from destination.models import Destination
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db


def _publish(parent, page):
    parent.add_child(instance=page)
    page.save_revision().publish()
    return page


def offer_make(partner, **fields) -> Offer:
    """A published offer (test data kept here: no test imports from a conftest)."""
    defaults = {
        "kind": Offer.Kind.GROUP_LESSON,
        "slug": f"offer-{Offer.objects.count() + 1}-{time.monotonic_ns()}",
        "title_en": "Group ski lesson",
        "title_fr": "Cours de ski collectif",
        "price_cents": 5000,
        "is_published": True,
        "needs_participant_names": False,
    }
    return Offer.objects.create(partner=partner, **{**defaults, **fields})


def session_make(offer: Offer, *, days: int = 40, capacity: int = 10) -> Session:
    start = (timezone.now() + dt.timedelta(days=days)).replace(microsecond=0)
    return Session.objects.create(
        offer=offer, starts_at=start, ends_at=start + dt.timedelta(hours=3), capacity=capacity
    )


def _rename_brand(name: str) -> None:
    brand = Destination.load()
    brand.brand_name = name
    brand.save()


def test_booking_is_in_the_main_navigation_of_every_language(client, demo_site):
    for prefix in ("en", "fr"):
        html = client.get(f"/{prefix}/").text
        nav = html.split('id="site-nav"', 1)[1].split("</nav>", 1)[0]
        assert f'href="/{prefix}/book/"' in nav
    assert ">Réserver<" in client.get("/fr/").text


def test_the_catalogue_marks_book_as_the_current_section(client, demo_site):
    html = client.get("/en/book/").text
    assert 'href="/en/book/" class="site-nav__book" aria-current="page"' in html


def test_the_home_page_links_every_kind_of_bookable_offer(client, demo_site):
    school = PartnerFactory()
    for kind, price in [
        (Offer.Kind.GROUP_LESSON, 5000),
        (Offer.Kind.PRIVATE_LESSON, 9800),
        (Offer.Kind.PASS, 28000),
        (Offer.Kind.RENTAL, 12000),
    ]:
        session_make(offer_make(school, kind=kind, price_cents=price))
    offer_make(school, kind=Offer.Kind.STAY)  # no session: not bookable, not listed
    html = client.get("/en/").text
    section = html.split('id="home-book"', 1)[1].split("</section>", 1)[0]
    for kind in ("group_lesson", "private_lesson", "pass", "rental"):
        assert f'href="/en/book/?kind={kind}"' in section
    assert "?kind=stay" not in section
    assert "Lift passes" in section and "from €280" in section
    assert 'href="/en/book/"' in section  # "All offers"


def test_the_catalogue_filter_the_home_page_links_to_lists_that_kind(client, demo_site):
    school = PartnerFactory()
    session_make(offer_make(school, kind=Offer.Kind.PASS, title_en="Six-day pass"))
    session_make(offer_make(school, kind=Offer.Kind.RENTAL, title_en="Ski pack"))
    html = client.get("/en/book/?kind=pass").text
    assert "Six-day pass" in html and "Ski pack" not in html


def test_a_ski_lessons_page_lists_group_and_private_lessons(client, demo_site):
    page = _publish(
        demo_site.home, OfferPage(title="Ski lessons", slug="ski-lessons", offer_kind=LESSONS)
    )
    school = PartnerFactory()
    session_make(offer_make(school, title_en="Morning group"))
    session_make(offer_make(school, kind=Offer.Kind.PRIVATE_LESSON, title_en="One to one"))
    session_make(offer_make(school, kind=Offer.Kind.RENTAL, title_en="Ski pack"))
    html = client.get(page.url).text
    assert "Morning group" in html and "One to one" in html
    assert "Ski pack" not in html


def test_the_menu_button_is_a_disclosure_driven_by_a_static_script(client, demo_site):
    html = client.get("/en/").text
    button = re.search(r"<button[^>]*site-menu-button[^>]*>", html).group(0)
    assert 'aria-expanded="false"' in button and 'aria-controls="site-nav"' in button
    # Hidden until the script runs: without JavaScript the navigation simply shows.
    assert " hidden" in button
    assert re.search(r'<script src="[^"]*content/site-menu\.js" defer></script>', html)
    header = html.split('<header class="site-header"', 1)[1].split("</header>", 1)[0]
    assert "<script" not in header
    assert not re.search(r"\son[a-z]+=", header)


def test_site_and_portal_pages_have_a_favicon(client, demo_site):
    assert 'rel="icon" href="/static/brand/favicon.svg"' in client.get("/en/").text
    response = client.get("/static/brand/favicon.svg")
    assert response.status_code == 200
    from django.template.loader import get_template

    source = get_template("portal/base.html").template.source
    assert "brand/favicon.svg" in source


def test_image_credits_name_the_brand_when_none_is_typed(client, demo_site):
    _rename_brand("Neige United")
    (story,) = demo_site.add_stories(1)
    body = list(story.body.raw_data)
    for block in body:
        if block["type"] == "image":
            block["value"]["credit"] = ""
    story.body = body
    story.save_revision().publish()
    html = client.get(story.url).text
    assert '<span class="credit">© Neige United</span>' in html
    assert "Live United" not in html


def test_a_typed_credit_wins_over_the_brand(client, demo_site):
    (story,) = demo_site.add_stories(1)  # its image is credited "Office"
    assert '<span class="credit">© Office</span>' in client.get(story.url).text


def test_one_brand_name_on_header_footer_title_and_credits_of_the_seeded_site(client):
    """The seed writes no brand name of its own: whatever the setting says shows everywhere."""
    from django.core.management import call_command

    from content.models import StoryPage

    _rename_brand("Neige United")
    call_command("seed_content", stories=2, verbosity=0)
    story = StoryPage.objects.live().filter(locale__language_code="en").first()
    for url in ("/en/", story.url, "/fr/"):
        html = client.get(url).text
        assert "Live United" not in html, url
        assert "Neige United</title>" in html
    html = client.get(story.url).text
    assert '<span class="brand__name">Neige United</span>' in html
    assert '<p class="site-footer__brand">Neige United</p>' in html
    assert "© Neige United" in html


def test_event_and_story_cards_follow_the_heading_outline(client, demo_site):
    demo_site.add_event(days=2)
    demo_site.add_stories(1, featured=True)

    def levels(html: str) -> list[int]:
        main = html.split('<main id="main"', 1)[1].split("</main>", 1)[0]
        return [int(level) for level in re.findall(r"<h([1-6])[\s>]", main)]

    for url in ("/en/", demo_site.event_index.url, demo_site.story_index.url):
        found = levels(client.get(url).text)
        assert found[0] == 1, url
        assert all(b - a <= 1 for a, b in pairwise(found)), (url, found)
