"""The public site as readers see it: both languages, the brand, filters, SEO tags, search."""

import re

import pytest
from django.core.management import call_command

from content.models import Theme
from destination.models import Destination
from partners.models import Partner
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db


def test_home_page_shows_featured_stories_and_upcoming_events(client, demo_site):
    demo_site.add_stories(2)
    (featured,) = demo_site.add_stories(1)
    featured.featured = True
    featured.save_revision().publish()
    demo_site.add_event(days=2, title="Torchlight descent", slug="torchlight")

    response = client.get("/en/")

    assert response.status_code == 200
    stories = response.context["featured_stories"]
    assert stories[0] == featured  # ticked stories come first, the latest fill the rest
    assert len(stories) == 3
    assert "Torchlight descent" in response.text
    assert "<title>Live the mountains · Live United</title>" in response.text


def test_brand_settings_drive_the_rendered_site(client, demo_site):
    brand = Destination.load()
    brand.brand_name = "Peak Collective"
    brand.primary_color = "#aa3300"
    brand.legal_footer = "Peak Collective SAS, registered in Savoie."
    brand.instagram_url = "https://instagram.example/peak"
    brand.logo = demo_site.image
    brand.save()

    html = client.get("/en/stories/").text

    assert "Peak Collective" in html
    assert "--brand: #aa3300" in html
    assert "registered in Savoie" in html
    assert 'href="https://instagram.example/peak"' in html
    assert 'class="brand__logo"' in html


def test_a_fresh_site_is_named_after_the_fictitious_resort(client, demo_site):
    """The demo texts are about "Val Neige"; the default must not name a real resort."""
    assert Destination.load().name == "Val Neige"
    html = client.get("/en/").text
    assert '<span class="brand__place">Val Neige</span>' in html
    assert "Val Thorens" not in html


def test_a_colour_that_is_not_a_hex_code_never_reaches_the_stylesheet(client, demo_site):
    Destination.objects.update(primary_color="red;}")
    Destination.load()  # the setting is cached per request only
    html = client.get("/en/").text
    assert "red;}" not in html
    assert "--brand: #0b5cad" in html


def test_story_index_filters_by_theme(client, demo_site):
    demo_site.add_stories(2, theme=Theme.SKIING)
    family = demo_site.add_stories(1, theme=Theme.FAMILY)

    response = client.get("/en/stories/", {"theme": "family"})
    assert list(response.context["stories"]) == family
    assert response.context["current_theme"] == "family"

    everything = client.get("/en/stories/", {"theme": "not-a-theme"})
    assert len(everything.context["stories"]) == 3
    assert everything.context["current_theme"] == ""


def test_story_index_paginates(client, demo_site):
    demo_site.add_stories(10)
    second = client.get("/en/stories/", {"page": 2})
    assert len(second.context["stories"]) == 1
    assert client.get("/en/stories/", {"page": "zz"}).context["stories"].number == 1


def test_hreflang_and_language_switcher_link_the_translations(client, demo_site):
    english = client.get("/en/stories/").text
    assert (
        '<link rel="alternate" hreflang="en" href="http://localhost:8000/en/stories/">' in english
    )
    assert '<link rel="alternate" hreflang="fr" href="http://localhost:8000/fr/recits/">' in english
    assert (
        '<link rel="alternate" hreflang="x-default" href="http://localhost:8000/en/stories/">'
        in english
    )
    assert 'href="/fr/recits/" hreflang="fr"' in english

    french = client.get("/fr/recits/").text
    assert '<html lang="fr">' in french
    assert 'hreflang="en" href="http://localhost:8000/en/stories/"' in french
    assert 'href="/en/stories/" hreflang="en"' in french
    assert "Récits" in french


def test_switcher_falls_back_to_the_home_page_of_an_untranslated_page(client, demo_site):
    (story,) = demo_site.add_stories(1)
    html = client.get(story.url).text
    assert 'hreflang="fr" href=' not in html.split("</head>")[0]
    assert 'href="/fr/" hreflang="fr"' in html


def test_open_graph_tags_and_meta_description(client, demo_site):
    (story,) = demo_site.add_stories(1)
    html = client.get(story.url).text
    assert '<meta name="description" content="The intro of story 0.">' in html
    assert '<meta property="og:title" content="Story 0">' in html
    assert '<meta property="og:type" content="article">' in html
    assert re.search(
        r'<meta property="og:image" content="http://localhost:8000/media/images/[^"]+fill-1200x630',
        html,
    )
    assert "<title>Story 0 · Live United</title>" in html


def test_open_graph_locales_name_the_territory_and_the_translations(client, demo_site):
    english = client.get("/en/stories/").text
    assert '<meta property="og:locale" content="en_GB">' in english
    assert '<meta property="og:locale:alternate" content="fr_FR">' in english
    french = client.get("/fr/recits/").text
    assert '<meta property="og:locale" content="fr_FR">' in french
    assert '<meta property="og:locale:alternate" content="en_GB">' in french

    # No alternate for a page with no French version, nor for its French alias.
    (story,) = demo_site.add_stories(1)
    alias = story.copy_for_translation(demo_site.fr, alias=True)
    untranslated = client.get(story.url).text
    assert "og:locale:alternate" not in untranslated
    alias_html = client.get(alias.url).text
    assert '<meta property="og:locale" content="en_GB">' in alias_html  # its text is English
    assert "og:locale:alternate" not in alias_html


def test_responsive_images_use_picture_with_modern_formats(client, demo_site):
    (story,) = demo_site.add_stories(1)
    html = client.get(story.url).text
    assert 'type="image/webp"' in html
    assert "srcset=" in html


def test_event_index_lists_only_upcoming_events(client, demo_site):
    demo_site.add_event(days=5, title="Soon", slug="soon")
    demo_site.add_event(days=-3, title="Past", slug="past")
    titles = [event.title for event in client.get("/en/events/").context["events"]]
    assert titles == ["Soon"]


def test_partner_directory_lists_active_partners_by_kind(client, demo_site):
    PartnerFactory(name="Alpine School", kind=Partner.Kind.SKI_SCHOOL)
    PartnerFactory(name="Le Refuge", kind=Partner.Kind.RESTAURANT)
    PartnerFactory(name="Closed Shop", kind=Partner.Kind.RESTAURANT, is_active=False)

    response = client.get("/fr/partenaires/")

    groups = {
        kind: [p.name for p in partners] for kind, partners in response.context["partner_groups"]
    }
    assert groups == {"Ski school": ["Alpine School"], "Restaurant": ["Le Refuge"]} or groups == {
        "École de ski": ["Alpine School"],
        "Restaurant": ["Le Refuge"],
    }
    assert "Closed Shop" not in response.text


def test_sitemap_lists_both_language_trees(client, demo_site):
    xml = client.get("/sitemap.xml").text
    assert "<loc>http://localhost:8000/en/</loc>" in xml
    assert "<loc>http://localhost:8000/fr/</loc>" in xml
    assert "<loc>http://localhost:8000/fr/recits/</loc>" in xml


def test_search_finds_pages_in_the_readers_language(client, demo_site):
    demo_site.add_stories(1)
    call_command("update_index", verbosity=0)

    english = client.get("/en/search/", {"q": "powder"})
    assert [page.title for page in english.context["results"]] == ["Story 0"]

    french = client.get("/fr/search/", {"q": "récits"})
    assert [page.title for page in french.context["results"]] == ["Récits"]
    assert client.get("/fr/search/", {"q": "powder"}).context["results"].paginator.count == 0


def test_empty_search_shows_the_form(client, demo_site):
    response = client.get("/en/search/")
    assert response.status_code == 200
    assert 'role="search"' in response.text
    # A non-page view switches language by URL prefix.
    assert 'href="/fr/search/" hreflang="fr"' in response.text


def _french_alias(demo_site, story):
    """What wagtail-localize's "sync from English" makes of a new English page."""
    alias = story.copy_for_translation(demo_site.fr, alias=True)
    assert alias.alias_of_id == story.pk and alias.live
    return alias


def test_an_alias_is_no_translation_for_hreflang_the_switcher_or_the_sitemap(client, demo_site):
    (story,) = demo_site.add_stories(1)
    alias = _french_alias(demo_site, story)

    english = client.get(story.url).text
    head = english.split("</head>")[0]
    assert 'hreflang="fr"' not in head
    # A reader asking for French gets French text: the French home, not English under French menus.
    assert 'href="/fr/" hreflang="fr"' in english
    assert f'href="{alias.url}"' not in english

    french = client.get(alias.url)
    assert french.status_code == 200
    head = french.text.split("</head>")[0]
    original = f"http://localhost:8000{story.url}"
    assert f'<link rel="canonical" href="{original}">' in head
    assert f'<meta property="og:url" content="{original}">' in head
    assert 'rel="alternate"' not in head
    assert '<main id="main" tabindex="-1" lang="en">' in french.text

    xml = client.get("/sitemap.xml").text
    assert f"<loc>{original}</loc>" in xml
    assert f"<loc>http://localhost:8000{alias.url}</loc>" not in xml
    assert "<loc>http://localhost:8000/fr/recits/</loc>" in xml
