"""Editorial roles, scheduled publishing and page translation."""

import datetime as dt

import pytest
from django.utils import timezone
from wagtail.models import Page

from content.services import editorial_groups_ensure, page_translate
from content.tasks import publish_scheduled_pages_task
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _member(group):
    user = UserFactory(is_staff=True)
    user.groups.add(group)
    return user


def test_editors_write_and_moderators_publish_in_both_trees(demo_site):
    groups = editorial_groups_ensure()
    editor, moderator = _member(groups["Editors"]), _member(groups["Moderators"])

    for page in (demo_site.story_index, demo_site.story_index.get_translation(demo_site.fr)):
        editor_rights = page.permissions_for_user(editor)
        moderator_rights = page.permissions_for_user(moderator)
        assert editor_rights.can_add_subpage() and editor_rights.can_edit()
        assert not editor_rights.can_publish()
        assert moderator_rights.can_publish() and moderator_rights.can_unpublish()
    assert editor.has_perm("wagtailadmin.access_admin")
    assert moderator.has_perm("wagtail_localize.submit_translation")


def test_editorial_groups_are_idempotent_and_keep_moderation_on(demo_site):
    editorial_groups_ensure()
    editorial_groups_ensure()
    root = Page.get_first_root_node()
    workflow = root.get_workflow()
    assert workflow is not None and workflow.active
    # Moderation applies to every page of both trees.
    assert demo_site.fr_home().get_workflow() == workflow


def test_scheduled_page_goes_live_when_the_beat_task_runs(demo_site):
    (story,) = demo_site.add_stories(1)
    story.unpublish()
    story.title = "Scheduled story"
    story.save_revision(approved_go_live_at=timezone.now() - dt.timedelta(minutes=1))
    story.refresh_from_db()
    assert not story.live

    publish_scheduled_pages_task()  # what beat runs (the eager result backend is not needed)

    story.refresh_from_db()
    assert story.live
    assert story.title == "Scheduled story"


def test_page_translate_keeps_untranslated_strings_and_updates_on_rerun(demo_site):
    (story,) = demo_site.add_stories(1)
    french = page_translate(page=story, locale=demo_site.fr, strings={"Story 0": "Récit 0"})
    assert french.live and french.title == "Récit 0"
    assert french.author_name == "Camille"  # no translation given: the source text stays
    assert french.get_parent().specific == demo_site.story_index.get_translation(demo_site.fr)

    again = page_translate(page=story, locale=demo_site.fr, strings={"Story 0": "Récit zéro"})
    assert again.pk == french.pk and again.title == "Récit zéro"
