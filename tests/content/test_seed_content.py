"""The demo content command builds both language trees, and --if-empty leaves a site alone."""

import pytest
from django.core.management import CommandError, call_command
from wagtail.models import Page, Site

from content.models import HomePage, OfferPage, StoryPage
from tests.factories import PartnerFactory

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


def test_seed_content_adds_offer_pages_in_both_languages_fed_by_the_catalogue(client):
    from bookings.models import Offer
    from tests.factories import offer_make, session_make

    call_command("seed_content", stories=1, verbosity=0)
    pages = OfferPage.objects.order_by("locale__language_code", "slug")
    assert {(p.locale.language_code, p.slug) for p in pages} == {
        ("en", "ski-lessons"), ("en", "stays"), ("fr", "cours-de-ski"), ("fr", "sejours")
    }  # fmt: skip
    lessons = OfferPage.objects.get(locale__language_code="fr", slug="cours-de-ski")
    assert lessons.live and lessons.title == "Cours de ski"
    assert lessons.offer_kind == Offer.Kind.GROUP_LESSON
    offer = offer_make(PartnerFactory(), title_fr="Cours du matin, niveau 2")
    session_make(offer)
    response = client.get(lessons.url)
    assert response.status_code == 200
    assert offer.title_fr in response.content.decode()


def test_seed_content_if_empty_does_nothing_on_a_built_site():
    call_command("seed_content", stories=1, verbosity=0)
    pages = Page.objects.count()
    call_command("seed_content", "--if-empty", verbosity=0)
    assert Page.objects.count() == pages
    with pytest.raises(CommandError):
        call_command("seed_content", stories=1, verbosity=0)
    assert Page.objects.count() == pages
