"""The demo content command builds both language trees, and --if-empty leaves a site alone."""

import pytest
from django.core.management import CommandError, call_command
from wagtail.models import Page, Site

from content.models import HomePage, StoryPage

pytestmark = pytest.mark.django_db


def test_seed_content_builds_the_site_in_english_and_french(client):
    call_command("seed_content", stories=2, verbosity=0)

    homes = HomePage.objects.order_by("locale__language_code")
    assert [home.locale.language_code for home in homes] == ["en", "fr"]
    assert Site.objects.get(is_default_site=True).root_page.specific == homes[0]
    assert not Page.objects.filter(depth=2, content_type__model="page").exists()
    french_story = StoryPage.objects.get(
        locale__language_code="fr", slug="premieres-traces-au-lever-du-soleil"
    )
    assert french_story.title == "Premières traces au lever du soleil"
    assert french_story.live
    # Translations keep the tree consistent: every parent knows its children.
    for page in Page.objects.all():
        assert page.numchild == page.get_children().count(), page
    assert client.get(french_story.url).status_code == 200
    assert client.get("/fr/").status_code == 200


def test_seed_content_if_empty_does_nothing_on_a_built_site():
    call_command("seed_content", stories=1, verbosity=0)
    pages = Page.objects.count()
    call_command("seed_content", "--if-empty", verbosity=0)
    assert Page.objects.count() == pages
    with pytest.raises(CommandError):
        call_command("seed_content", stories=1, verbosity=0)
    assert Page.objects.count() == pages
