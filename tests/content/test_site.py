"""Site-wide behaviour: the legal footer per language, absolute URLs from the Site, and 404s
outside the language prefix."""

from __future__ import annotations

import pytest
from wagtail.models import Site

from content.models import LegalFooter, WebsiteTexts
from destination.models import Destination

pytestmark = pytest.mark.django_db


def test_the_legal_footer_follows_the_language_with_the_brands_as_fallback(client, demo_site):
    brand = Destination.load()
    brand.legal_footer = "Default legal text."
    brand.save()
    assert "Default legal text." in client.get("/fr/").text

    texts = WebsiteTexts.load()
    LegalFooter.objects.create(texts=texts, language="fr", text="Mentions légales en français.")
    LegalFooter.objects.create(texts=texts, language="en", text="Legal notice in English.")

    french, english = client.get("/fr/").text, client.get("/en/").text
    assert "Mentions légales en français." in french
    assert "Legal notice in English." not in french
    assert "Legal notice in English." in english

    # Editing a text takes effect at once (the cached texts are dropped).
    footer = LegalFooter.objects.get(language="en")
    footer.text = "Updated English notice."
    footer.save()
    assert "Updated English notice." in client.get("/en/").text
    footer.delete()
    assert "Default legal text." in client.get("/en/").text


def test_canonical_and_open_graph_urls_use_the_sites_hostname(client, demo_site):
    Site.objects.filter(is_default_site=True).update(hostname="www.example.com", port=443)
    (story,) = demo_site.add_stories(1)
    html = client.get(story.url, HTTP_HOST="testserver").text
    expected = "https://www.example.com/en/stories/story-0/"
    assert f'<link rel="canonical" href="{expected}">' in html
    assert f'<meta property="og:url" content="{expected}">' in html
    assert 'content="https://www.example.com/media/images/' in html  # og:image
    assert 'hreflang="en" href="https://www.example.com/en/stories/story-0/"' in html
    assert "testserver" not in html


@pytest.mark.parametrize("path", ["/nope/", "/api/unknown", "/nope", "/en-gb/x/", "/cms-x/"])
def test_unknown_paths_outside_the_prefix_are_404_not_redirects(client, demo_site, path):
    response = client.get(path)
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("path", "accept", "target"),
    [
        ("/", "", "/en/"),
        ("/", "fr-FR,fr;q=0.9", "/fr/"),
        ("/stories/", "", "/en/stories/"),  # a real page of the reader's tree
        ("/recits/", "fr", "/fr/recits/"),
        ("/search/", "", "/en/search/"),  # a Django view under the prefix
        ("/newsletter/", "", "/en/newsletter/"),
    ],
)
def test_paths_that_exist_under_the_prefix_still_redirect(client, demo_site, path, accept, target):
    response = client.get(path, HTTP_ACCEPT_LANGUAGE=accept)
    assert response.status_code == 302
    assert response["Location"] == target


def test_an_unknown_page_under_the_prefix_is_a_404(client, demo_site):
    assert client.get("/en/nope/").status_code == 404
    assert client.get("/recits/", HTTP_ACCEPT_LANGUAGE="en").status_code == 404
