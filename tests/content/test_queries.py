"""Query budgets of the public pages. Listings must cost the same with 3 or 12 stories (no N+1
on hero images, their renditions or the language links); the budgets below are exact-ish caps,
measured on SQLite and PostgreSQL, that fail loudly when a page starts querying per row."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db

# Measured on SQLite and PostgreSQL. Home: site, active locale, route (page, ancestors, view
# restrictions), featured stories + renditions, events + renditions, sections, brand + logo,
# navigation, language links, hero renditions, the kinds of offer open for booking ("Book
# online", one query whatever the number of offers). Story page: the same frame plus the body's
# images.
HOME_PAGE_MAX_QUERIES = 18
STORY_PAGE_MAX_QUERIES = 15
STORY_INDEX_MAX_QUERIES = 15


def _count(client, url: str) -> int:
    client.get(url)  # the first view creates renditions and fills Wagtail's caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_home_page_query_budget(client, demo_site, django_assert_max_num_queries):
    demo_site.add_stories(3, featured=True)
    demo_site.add_event(days=1)
    client.get("/en/")
    with django_assert_max_num_queries(HOME_PAGE_MAX_QUERIES):
        client.get("/en/")


def test_story_page_query_budget(client, demo_site, django_assert_max_num_queries):
    (story,) = demo_site.add_stories(1)
    client.get(story.url)
    with django_assert_max_num_queries(STORY_PAGE_MAX_QUERIES):
        client.get(story.url)


def test_home_page_costs_the_same_with_3_or_12_stories(client, demo_site):
    demo_site.add_stories(3)
    demo_site.add_event(days=1)
    with_three = _count(client, "/en/")
    demo_site.add_stories(9)
    demo_site.add_event(days=2, slug="second")
    assert _count(client, "/en/") == with_three


def test_story_index_costs_the_same_with_3_or_12_stories(client, demo_site):
    demo_site.add_stories(3)
    with_three = _count(client, "/en/stories/")
    demo_site.add_stories(9)
    with_twelve = _count(client, "/en/stories/")
    assert with_twelve == with_three
    assert with_twelve <= STORY_INDEX_MAX_QUERIES


def test_french_pages_have_the_same_budget(client, demo_site):
    assert _count(client, "/fr/") <= HOME_PAGE_MAX_QUERIES
    assert _count(client, "/fr/recits/") <= STORY_INDEX_MAX_QUERIES


# The signup page: the page frame (no page in context) plus the wording, cached after one view.
NEWSLETTER_PAGE_MAX_QUERIES = 10
PARTNER_PAGE_MAX_QUERIES = 15


def test_newsletter_signup_page_query_budget(client, demo_site):
    assert _count(client, "/en/newsletter/") <= NEWSLETTER_PAGE_MAX_QUERIES


def test_partner_page_and_directory_query_budget(client, demo_site):
    from content.models import PartnerPage
    from tests.content.conftest import publish
    from tests.factories import PartnerFactory

    partners = [PartnerFactory() for _n in range(3)]
    for partner in partners:
        publish(
            demo_site.directory,
            PartnerPage(title=partner.name, slug=partner.slug, partner=partner),
        )
    page = PartnerPage.objects.get(partner=partners[0])
    assert _count(client, page.url) <= PARTNER_PAGE_MAX_QUERIES
    with_three = _count(client, demo_site.directory.url)
    for partner in [PartnerFactory() for _n in range(5)]:
        publish(
            demo_site.directory,
            PartnerPage(title=partner.name, slug=partner.slug, partner=partner),
        )
    assert _count(client, demo_site.directory.url) == with_three


def test_the_seeded_demo_site_keeps_the_budgets(client):
    """The site as ``seed_content`` builds it (a dozen stories with images, events, offers, both
    language trees, a logo): what the benchmark renders. The French tree resolves its root one
    step further than the English one, hence one query more."""
    from django.core.management import call_command

    from content.models import StoryPage

    call_command("seed_content", verbosity=0)
    story = StoryPage.objects.live().filter(locale__language_code="en").first()
    assert _count(client, "/en/") <= HOME_PAGE_MAX_QUERIES
    assert _count(client, "/fr/") <= HOME_PAGE_MAX_QUERIES + 1
    assert _count(client, "/en/stories/") <= STORY_INDEX_MAX_QUERIES + 1
    assert _count(client, "/fr/recits/") <= STORY_INDEX_MAX_QUERIES + 2
    assert _count(client, story.url) <= STORY_PAGE_MAX_QUERIES
