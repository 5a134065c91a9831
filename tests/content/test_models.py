"""Page types: where each may be created, and their own rules."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from wagtail.models import Page
from wagtail.test.utils import WagtailPageTestCase

from content.models import (
    EventIndexPage,
    EventPage,
    HomePage,
    OfferPage,
    PartnerDirectoryPage,
    PartnerPage,
    StoryIndexPage,
    StoryPage,
    Theme,
)


class PageTreeRulesTests(WagtailPageTestCase):
    def test_home_page_sits_at_the_root_and_holds_the_sections(self):
        self.assertAllowedParentPageTypes(HomePage, {Page})
        self.assertAllowedSubpageTypes(
            HomePage, {StoryIndexPage, EventIndexPage, PartnerDirectoryPage, OfferPage}
        )

    def test_partner_pages_live_in_the_directory_and_offer_pages_under_home(self):
        self.assertAllowedParentPageTypes(PartnerPage, {PartnerDirectoryPage})
        self.assertAllowedSubpageTypes(PartnerDirectoryPage, {PartnerPage})
        self.assertAllowedParentPageTypes(OfferPage, {HomePage})
        self.assertAllowedSubpageTypes(OfferPage, set())

    def test_stories_live_under_a_story_index_only(self):
        self.assertAllowedParentPageTypes(StoryPage, {StoryIndexPage})
        self.assertAllowedSubpageTypes(StoryPage, set())
        self.assertCanCreateAt(StoryIndexPage, StoryPage)
        self.assertCanNotCreateAt(HomePage, StoryPage)
        self.assertCanNotCreateAt(EventIndexPage, StoryPage)

    def test_events_live_under_an_event_index_only(self):
        self.assertAllowedParentPageTypes(EventPage, {EventIndexPage})
        self.assertCanCreateAt(EventIndexPage, EventPage)
        self.assertCanNotCreateAt(StoryIndexPage, EventPage)

    def test_sections_live_under_the_home_page(self):
        for section in (StoryIndexPage, EventIndexPage, PartnerDirectoryPage):
            self.assertAllowedParentPageTypes(section, {HomePage})


@pytest.mark.django_db
def test_an_event_cannot_end_before_it_starts(demo_site):
    start = timezone.now()
    event = EventPage(
        title="Backwards",
        slug="backwards",
        start_at=start,
        end_at=start - dt.timedelta(hours=1),
        place_name="Square",
    )
    with pytest.raises(ValidationError) as error:
        demo_site.event_index.add_child(instance=event)
    assert "end_at" in error.value.message_dict


@pytest.mark.django_db
def test_a_partner_directory_can_only_exist_once_per_home(demo_site):
    assert not PartnerDirectoryPage.can_create_at(demo_site.home)
    assert StoryIndexPage.can_create_at(demo_site.home)


@pytest.mark.django_db  # Page() looks up its content type
def test_seo_falls_back_to_the_title_and_the_intro():
    story = StoryPage(title="Powder", intro="Fresh snow all night.", theme=Theme.SKIING)
    assert story.get_meta_title() == "Powder"
    assert story.get_meta_description() == "Fresh snow all night."
    story.seo_title, story.search_description = "Powder day", "Written by editors."
    assert story.get_meta_title() == "Powder day"
    assert story.get_meta_description() == "Written by editors."
    assert story.get_og_type() == "article"


@pytest.mark.django_db
def test_a_story_without_a_date_is_invalid():
    story = StoryPage(title="Undated", slug="undated", theme=Theme.FAMILY, body=[])
    with pytest.raises(ValidationError) as error:
        story.full_clean()
    assert "date" in error.value.message_dict
