"""Editors' Wagtail: the brand's name on the admin, a dashboard that leads to the work, and
translations out of step with their English source flagged on the listing and in the editor."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.conf import settings
from django.urls import reverse
from wagtail.models import Page, Workflow

from content.selectors import translation_list_stale, translation_sync_get
from destination.models import Destination
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def _rename_brand(name: str) -> None:
    brand = Destination.load()
    brand.brand_name = name
    brand.save()


def _publish_source_change(page: Page, title: str) -> None:
    """An editor changes the English page and publishes it, after the last sync."""
    page = page.specific
    page.title = title
    page.save_revision().publish()
    page.refresh_from_db()
    # Publishing in the same second as the seed's sync would tie: move the sync back.
    from wagtail_localize.models import TranslationSource

    TranslationSource.objects.filter(object_id=page.translation_key).update(
        last_updated_at=page.last_published_at - dt.timedelta(minutes=5)
    )


# --- One brand name -------------------------------------------------------------------------


def test_the_admin_title_dashboard_and_sign_in_name_the_brand(admin_client, client, demo_site):
    _rename_brand("Neige United")
    dashboard = admin_client.get(reverse("wagtailadmin_home")).text
    assert "<title>Dashboard - Neige United</title>" in dashboard
    assert re.search(r'<h1 class="w-h1[^"]*">\s*Neige United\s*</h1>', dashboard)
    assert settings.WAGTAIL_SITE_NAME not in dashboard.split("<body", 1)[0]
    assert 'rel="icon" href="/static/brand/favicon.svg"' in dashboard
    client.logout()
    login = client.get(reverse("wagtailadmin_login")).text
    assert "Sign in to Neige United" in login


def test_a_renamed_brand_shows_in_the_admin_at_once(admin_client, demo_site):
    _rename_brand("Neige United")
    assert "- Neige United</title>" in admin_client.get(reverse("wagtailadmin_home")).text
    _rename_brand("Val Neige Tourisme")  # the save drops the cached name
    assert "- Val Neige Tourisme</title>" in admin_client.get(reverse("wagtailadmin_home")).text


def test_no_gravatar_and_no_update_check(admin_client, demo_site):
    assert settings.WAGTAIL_GRAVATAR_PROVIDER_URL is None
    assert settings.WAGTAIL_ENABLE_UPDATE_CHECK is False
    html = admin_client.get(reverse("wagtailadmin_home")).text
    assert "gravatar.com" not in html
    assert "data-w-upgrade" not in html  # Wagtail's upgrade notification calls wagtail.org


# --- The dashboard ----------------------------------------------------------------------------


def test_the_dashboard_leads_to_stories_events_and_approvals(admin_client, demo_site):
    (story,) = demo_site.add_stories(1)
    event = demo_site.add_event(days=2, title="Torchlight descent")
    # A partner's page submitted to the moderation workflow.
    submitter = UserFactory(is_staff=True, is_superuser=True)
    waiting = demo_site.add_event(days=9, title="Waiting for a moderator")
    workflow = Workflow.objects.filter(active=True).first()
    if workflow is None:
        pytest.skip("no moderation workflow installed")
    workflow.start(waiting, submitter)
    html = admin_client.get(reverse("wagtailadmin_home")).text
    for panel in ("dashboard-recent-stories", "dashboard-upcoming-events"):
        assert f'id="{panel}' in html, panel
    assert 'id="dashboard-awaiting-approval' in html
    edit = reverse("wagtailadmin_pages:edit", args=[story.pk])
    assert edit in html and story.title in html
    assert reverse("wagtailadmin_pages:edit", args=[event.pk]) in html
    approvals = html.split('id="dashboard-awaiting-approval', 1)[1].split("</section>", 1)[0]
    assert "Waiting for a moderator" in approvals
    assert "Torchlight descent" not in approvals


def test_empty_panels_say_so_rather_than_vanish(admin_client, demo_site):
    html = admin_client.get(reverse("wagtailadmin_home")).text
    assert "No page is waiting for approval." in html
    assert "No event is announced." in html


# --- Translations out of date -------------------------------------------------------------------


def test_a_translation_is_in_step_after_its_sync(demo_site):
    fr_index = demo_site.story_index.get_translation(demo_site.fr)
    sync = translation_sync_get(page=fr_index)
    assert sync is not None and not sync.is_source and not sync.is_stale
    assert translation_sync_get(page=demo_site.story_index).is_source


def test_publishing_the_source_makes_both_pages_out_of_date(demo_site):
    _publish_source_change(demo_site.story_index, "Our stories")
    fr_index = demo_site.story_index.get_translation(demo_site.fr)
    assert translation_sync_get(page=demo_site.story_index).stale_locales == ("fr",)
    assert translation_sync_get(page=fr_index).is_stale
    assert [page.pk for page in translation_list_stale()] == [demo_site.story_index.pk]
    # Sync (what wagtail-localize's "Sync translated pages" does to the source): in step again.
    from wagtail_localize.models import TranslationSource

    source = TranslationSource.objects.get(pk=translation_sync_get(page=fr_index).source_id)
    source.update_from_db()
    assert not translation_sync_get(page=fr_index).is_stale
    assert translation_list_stale() == []


def test_a_page_without_translation_has_no_sync_state(demo_site):
    (story,) = demo_site.add_stories(1)
    assert translation_sync_get(page=story) is None


def test_the_page_listing_flags_out_of_date_pages_with_a_sync_link(admin_client, demo_site):
    _publish_source_change(demo_site.story_index, "Our stories")
    source_id = translation_sync_get(page=demo_site.story_index).source_id
    sync_url = reverse("wagtail_localize:update_translations", args=[source_id])

    english = admin_client.get(reverse("wagtailadmin_explore", args=[demo_site.home.pk])).text
    assert "Translation out of date: French" in english
    assert sync_url in english

    fr_home = demo_site.fr_home()
    french = admin_client.get(reverse("wagtailadmin_explore", args=[fr_home.pk])).text
    assert "Out of date: the source page changed" in french
    assert french.count('data-translation-sync="stale"') == 1  # only the stories index


def test_the_listing_says_nothing_when_every_translation_is_in_step(admin_client, demo_site):
    html = admin_client.get(reverse("wagtailadmin_explore", args=[demo_site.home.pk])).text
    assert 'data-translation-sync="stale"' not in html


def test_the_editors_warn_on_an_out_of_date_page(admin_client, demo_site):
    _publish_source_change(demo_site.story_index, "Our stories")
    source = admin_client.get(reverse("wagtailadmin_pages:edit", args=[demo_site.story_index.pk]))
    assert "the French translation does not have these changes yet" in source.text
    assert "Sync now" in source.text
    fr_index = demo_site.story_index.get_translation(demo_site.fr)
    # wagtail-localize's translation editor opens for the French page; the notice shows there.
    french = admin_client.get(reverse("wagtailadmin_pages:edit", args=[fr_index.pk]))
    assert french.status_code == 200
    assert "its latest changes are not here yet" in french.text


def test_the_editor_stays_quiet_on_a_page_in_step(admin_client, demo_site):
    html = admin_client.get(
        reverse("wagtailadmin_pages:edit", args=[demo_site.story_index.pk])
    ).text
    assert "does not have these changes yet" not in html
