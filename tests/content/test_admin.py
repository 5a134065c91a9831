"""Editors' side: the page editors and the brand settings open in the Wagtail admin."""

import pytest
from django.urls import reverse

from content.models import StoryPage
from destination.models import Destination
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_page_editors_open_for_every_page_type(admin_client, demo_site):
    (story,) = demo_site.add_stories(1)
    event = demo_site.add_event()
    for page in (
        demo_site.home,
        demo_site.story_index,
        story,
        demo_site.event_index,
        event,
        demo_site.directory,
    ):
        response = admin_client.get(reverse("wagtailadmin_pages:edit", args=[page.pk]))
        assert response.status_code == 200, page


def test_story_preview_renders_the_draft(admin_client, demo_site):
    (story,) = demo_site.add_stories(1)
    response = admin_client.get(reverse("wagtailadmin_pages:preview_on_edit", args=[story.pk]))
    assert response.status_code == 200


def test_brand_settings_edit_in_the_admin(admin_client, demo_site):
    url = reverse("wagtailsettings:edit", args=["destination", "destination"])
    response = admin_client.get(url, follow=True)  # generic settings redirect to their row
    assert response.status_code == 200
    assert "legal_footer" in response.text and "default_sender_email" in response.text
    assert 'name="logo"' in response.text


def test_french_pages_use_the_french_interface_strings(client, demo_site):
    demo_site.add_stories(1)
    html = client.get("/fr/").text
    assert "Prochains événements" in html
    assert "Aller au contenu" in html
    assert Destination.load().brand_name in html


@pytest.mark.parametrize(
    "name", ["heading", "paragraph", "image", "quote", "call_to_action", "offer_teaser"]
)
def test_block_previews_render_with_the_site_stylesheet(admin_client, demo_site, name):
    block = StoryPage.body.field.stream_block.child_blocks[name]
    response = admin_client.get(
        reverse("wagtailadmin_block_preview"), {"id": block.definition_prefix}
    )
    assert response.status_code == 200
    assert "css/site.css" in response.text


def test_french_pages_open_in_the_wagtail_localize_translation_editor(admin_client, demo_site):
    french_index = demo_site.story_index.get_translation(demo_site.fr)
    response = admin_client.get(reverse("wagtailadmin_pages:edit", args=[french_index.pk]))
    assert response.status_code == 200
    # wagtail-localize swaps Wagtail's editor for its own on synced translations.
    assert "js-translation-editor" in response.text
    assert "Récits" in response.text
