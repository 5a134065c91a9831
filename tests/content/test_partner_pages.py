"""Partners write their own page; the tourist office's moderators publish it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from wagtail.models import Page
from wagtail.test.utils.form_data import inline_formset, nested_form_data, rich_text, streamfield

from content.models import PartnerPage
from content.services import (
    PARTNER_GROUP_PREFIX,
    editorial_groups_ensure,
    page_translate,
    partner_page_editors_ensure,
)
from partners.models import Membership
from tests.content.helpers import publish
from tests.factories import MembershipFactory, PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def partner_site(demo_site):
    groups = editorial_groups_ensure()
    school, hotel = PartnerFactory(name="Snow School"), PartnerFactory(name="Hotel Edelweiss")
    pages = {}
    for partner in (school, hotel):
        pages[partner] = publish(
            demo_site.directory,
            PartnerPage(title=partner.name, slug=partner.slug, partner=partner, intro="Hello."),
        )
    page_translate(page=pages[school], locale=demo_site.fr, strings={"Hello.": "Bonjour."})
    staff = MembershipFactory(partner=school).user
    partner_page_editors_ensure(partner=school)
    partner_page_editors_ensure(partner=hotel)
    moderator = UserFactory()
    moderator.groups.add(groups["Moderators"])
    return demo_site, school, hotel, pages, staff, moderator


def test_partner_staff_may_edit_their_own_page_only_and_not_publish(partner_site):
    site, school, hotel, pages, staff, _moderator = partner_site
    own = pages[school].permissions_for_user(staff)
    assert own.can_edit()
    assert not own.can_publish()
    assert pages[school].get_translation(site.fr).permissions_for_user(staff).can_edit()
    assert not pages[hotel].permissions_for_user(staff).can_edit()
    assert not site.story_index.permissions_for_user(staff).can_edit()
    assert not site.story_index.permissions_for_user(staff).can_add_subpage()
    assert not site.directory.permissions_for_user(staff).can_add_subpage()


def test_the_admin_refuses_another_partners_page(client, partner_site):
    _site, school, hotel, pages, staff, _moderator = partner_site
    client.force_login(staff)
    assert client.get(f"/cms/pages/{pages[school].pk}/edit/").status_code == 200
    response = client.get(f"/cms/pages/{pages[hotel].pk}/edit/")
    assert response.status_code in (302, 403)
    assert response.status_code == 403 or "/cms/" in response["Location"]


def _edit_data(page: PartnerPage, title: str, action: str) -> dict:
    return nested_form_data(
        {
            "title": title,
            "slug": page.slug,
            "intro": "Lessons for every age.",
            "body": streamfield([("paragraph", rich_text("<p>Our new winter programme.</p>"))]),
            "comments": inline_formset([]),
            action: "1",
        }
    )


def test_a_partners_draft_is_published_only_after_moderation(client, partner_site):
    _site, school, _hotel, pages, staff, moderator = partner_site
    page = pages[school]
    client.force_login(staff)

    # A partner cannot publish, even by posting the publish action.
    client.post(f"/cms/pages/{page.pk}/edit/", _edit_data(page, "Published?", "action-publish"))
    page.refresh_from_db()
    assert page.title == "Snow School"

    response = client.post(
        f"/cms/pages/{page.pk}/edit/", _edit_data(page, "Snow School, new", "action-submit")
    )
    assert response.status_code == 302
    page.refresh_from_db()
    assert page.title == "Snow School"  # still the live version
    assert page.has_unpublished_changes
    assert page.workflow_in_progress
    assert client.get(page.url).text.count("Snow School, new") == 0

    task_state = page.current_workflow_state.current_task_state
    task = task_state.task.specific
    assert "approve" in [action[0] for action in task.get_actions(page, moderator)]
    assert task.get_actions(page, staff) == []  # the partner cannot approve their own words
    task_state.approve(user=moderator)

    page.refresh_from_db()
    assert page.title == "Snow School, new"
    assert page.live and not page.has_unpublished_changes
    assert "Snow School, new" in client.get(page.url).text


def test_the_group_follows_the_partners_staff(django_capture_on_commit_callbacks, partner_site):
    _site, school, _hotel, pages, staff, _moderator = partner_site
    group = Group.objects.get(name=f"{PARTNER_GROUP_PREFIX}{school.slug}")
    assert list(group.user_set.all()) == [staff]

    with django_capture_on_commit_callbacks(execute=True):
        newcomer = MembershipFactory(partner=school).user
    assert set(group.user_set.all()) == {staff, newcomer}

    with django_capture_on_commit_callbacks(execute=True):
        Membership.objects.filter(user=staff).update(is_active=False)
        Membership.objects.get(user=staff).save()
    assert list(group.user_set.all()) == [newcomer]
    assert not pages[school].permissions_for_user(staff).can_edit()


def test_a_partner_page_hides_the_partner_field_from_partner_staff(client, partner_site):
    _site, school, _hotel, pages, staff, _moderator = partner_site
    client.force_login(staff)
    html = client.get(f"/cms/pages/{pages[school].pk}/edit/").text
    assert 'name="partner"' not in html
    editor = UserFactory()
    editor.groups.add(Group.objects.get(name="Editors"))
    client.force_login(editor)
    assert 'name="partner"' in client.get(f"/cms/pages/{pages[school].pk}/edit/").text


def test_the_directory_links_partners_with_a_page(client, partner_site):
    site, school, _hotel, pages, _staff, _moderator = partner_site
    html = client.get(site.directory.url).text
    assert f'href="{pages[school].url}"' in html
    assert "Snow School" in client.get(pages[school].url).text
    assert Page.objects.type(PartnerPage).live().count() == 3  # two English, one French
