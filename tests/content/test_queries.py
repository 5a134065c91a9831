"""Query budgets of the public pages. Listings must cost the same with 3 or 12 stories (no N+1
on hero images, their renditions or the language links); the budgets below are exact-ish caps,
measured on SQLite and PostgreSQL, that fail loudly when a page starts querying per row."""

import pytest

from tests.content.helpers import page_queries, publish
from tests.queries import assert_at_most, assert_max_num_queries, assert_same_num_queries

pytestmark = pytest.mark.django_db

# Measured on SQLite and PostgreSQL. Home: site, active locale, route (page, ancestors, view
# restrictions), featured stories + renditions, events + renditions, sections, brand + logo,
# navigation, language links, hero renditions. Story page: the same frame plus the body's images.
HOME_PAGE_MAX_QUERIES = 17
STORY_PAGE_MAX_QUERIES = 15
STORY_INDEX_MAX_QUERIES = 15


def test_home_page_query_budget(client, demo_site):
    demo_site.add_stories(3, featured=True)
    demo_site.add_event(days=1)
    client.get("/en/")
    with assert_max_num_queries(HOME_PAGE_MAX_QUERIES):
        client.get("/en/")


def test_story_page_query_budget(client, demo_site):
    (story,) = demo_site.add_stories(1)
    client.get(story.url)
    with assert_max_num_queries(STORY_PAGE_MAX_QUERIES):
        client.get(story.url)


def test_home_page_costs_the_same_with_3_or_12_stories(client, demo_site):
    demo_site.add_stories(3)
    demo_site.add_event(days=1)
    with_three = page_queries(client, "/en/")
    demo_site.add_stories(9)
    demo_site.add_event(days=2, slug="second")
    assert_same_num_queries(with_three, page_queries(client, "/en/"))


def test_story_index_costs_the_same_with_3_or_12_stories(client, demo_site):
    demo_site.add_stories(3)
    with_three = page_queries(client, "/en/stories/")
    demo_site.add_stories(9)
    with_twelve = page_queries(client, "/en/stories/")
    assert_same_num_queries(with_three, with_twelve)
    assert_at_most(with_twelve, STORY_INDEX_MAX_QUERIES)


def test_french_pages_have_the_same_budget(client, demo_site):
    assert_at_most(page_queries(client, "/fr/"), HOME_PAGE_MAX_QUERIES)
    assert_at_most(page_queries(client, "/fr/recits/"), STORY_INDEX_MAX_QUERIES)


# The signup page: the page frame (no page in context) plus the wording, cached after one view.
NEWSLETTER_PAGE_MAX_QUERIES = 10
PARTNER_PAGE_MAX_QUERIES = 15


def test_newsletter_signup_page_query_budget(client, demo_site):
    assert_at_most(page_queries(client, "/en/newsletter/"), NEWSLETTER_PAGE_MAX_QUERIES)


def test_partner_page_and_directory_query_budget(client, demo_site):
    from content.models import PartnerPage
    from tests.factories import PartnerFactory

    partners = [PartnerFactory() for _n in range(3)]
    for partner in partners:
        publish(
            demo_site.directory,
            PartnerPage(title=partner.name, slug=partner.slug, partner=partner),
        )
    page = PartnerPage.objects.get(partner=partners[0])
    assert_at_most(page_queries(client, page.url), PARTNER_PAGE_MAX_QUERIES)
    with_three = page_queries(client, demo_site.directory.url)
    for partner in [PartnerFactory() for _n in range(5)]:
        publish(
            demo_site.directory,
            PartnerPage(title=partner.name, slug=partner.slug, partner=partner),
        )
    assert_same_num_queries(with_three, page_queries(client, demo_site.directory.url))


def test_the_seeded_demo_site_keeps_the_budgets(client):
    """The site as ``seed_content`` builds it (a dozen stories with images, events, offers, both
    language trees, a logo): what the benchmark renders. The French tree resolves its root one
    step further than the English one, hence one query more."""
    from django.core.management import call_command

    from content.models import StoryPage

    call_command("seed_content", verbosity=0)
    story = StoryPage.objects.live().filter(locale__language_code="en").first()
    assert_at_most(page_queries(client, "/en/"), HOME_PAGE_MAX_QUERIES)
    assert_at_most(page_queries(client, "/fr/"), HOME_PAGE_MAX_QUERIES + 1)
    assert_at_most(page_queries(client, "/en/stories/"), STORY_INDEX_MAX_QUERIES + 1)
    assert_at_most(page_queries(client, "/fr/recits/"), STORY_INDEX_MAX_QUERIES + 2)
    assert_at_most(page_queries(client, story.url), STORY_PAGE_MAX_QUERIES)
