"""A small bilingual site built with the content services (faster than the seed command), and
the page helpers the content tests share."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

from django.core.files.images import ImageFile
from django.utils import timezone
from PIL import Image as PILImage
from wagtail.images import get_image_model
from wagtail.models import Collection, Locale, Page

from content.models import (
    EventIndexPage,
    EventPage,
    HomePage,
    PartnerDirectoryPage,
    StoryIndexPage,
    StoryPage,
    Theme,
)
from content.services import locales_ensure, page_translate, site_root_set
from tests.queries import QueryLog, capture_queries


def wagtail_roots_ensure() -> None:
    """The locales, Wagtail's root page and its root collection, put back where a transactional
    test elsewhere in the run flushed what the migrations created."""
    locales_ensure()
    if Page.get_first_root_node() is None:
        Page.add_root(instance=Page(title="Root", slug="root", locale=Locale.get_default()))
    if Collection.get_first_root_node() is None:
        Collection.add_root(name="Root")


def make_image(title: str = "Peaks") -> object:
    buffer = io.BytesIO()
    PILImage.new("RGB", (320, 200), (40, 90, 160)).save(buffer, "JPEG")
    image = get_image_model()(title=title, file=ImageFile(buffer, name=f"{title}.jpg"))
    image.save()
    return image


def publish(parent: Page, page: Page) -> Page:
    parent.add_child(instance=page)
    page.save_revision().publish()
    return page


@dataclass
class DemoSite:
    en: Locale
    fr: Locale
    home: HomePage
    story_index: StoryIndexPage
    event_index: EventIndexPage
    directory: PartnerDirectoryPage
    stories: list[StoryPage] = field(default_factory=list)
    image: object = None

    def fr_home(self) -> HomePage:
        return self.home.get_translation(self.fr)

    def add_stories(self, count: int, theme: str = Theme.SKIING, **fields) -> list[StoryPage]:
        start = len(self.stories)
        for n in range(start, start + count):
            story = publish(
                self.story_index,
                StoryPage(
                    title=f"Story {n}",
                    slug=f"story-{n}",
                    intro=f"The intro of story {n}.",
                    theme=theme,
                    date=timezone.localdate() - dt.timedelta(days=n),
                    author_name="Camille",
                    hero_image=self.image,
                    body=[
                        {"type": "paragraph", "value": f"<p>Powder day number {n}.</p>"},
                        {
                            "type": "image",
                            "value": {
                                "image": self.image.pk,
                                "caption": "A view",
                                "credit": "Office",
                            },
                        },
                        {"type": "quote", "value": {"text": "Snow!", "attribution": "A guide"}},
                    ],
                    **fields,
                ),
            )
            self.stories.append(story)
        return self.stories[start:]

    def add_event(self, days: int = 3, **fields) -> EventPage:
        start = timezone.now() + dt.timedelta(days=days)
        return publish(
            self.event_index,
            EventPage(
                title=fields.pop("title", f"Event in {days} days"),
                slug=fields.pop("slug", f"event-{days}"),
                start_at=start,
                end_at=start + dt.timedelta(hours=2),
                place_name="Village square",
                hero_image=self.image,
                **fields,
            ),
        )


def build_site(*, translate: bool = True) -> DemoSite:
    locales = locales_ensure()
    root = Page.get_first_root_node()
    Page.objects.filter(depth=2, slug="home").update(slug="old-welcome")
    image = make_image()
    home = publish(
        root,
        HomePage(
            title="Welcome",
            slug="home",
            hero_title="Live the mountains",
            intro="Hello.",
            hero_image=image,
        ),
    )
    site_root_set(home)
    story_index = publish(home, StoryIndexPage(title="Stories", slug="stories", show_in_menus=True))
    event_index = publish(home, EventIndexPage(title="Events", slug="events", show_in_menus=True))
    directory = publish(
        home, PartnerDirectoryPage(title="Our partners", slug="partners", show_in_menus=True)
    )
    site = DemoSite(
        locales["en"], locales["fr"], home, story_index, event_index, directory, image=image
    )
    if translate:
        strings = {
            "Welcome": "Bienvenue",
            "home": "accueil",
            "Live the mountains": "Vivez la montagne",
            "Stories": "Récits",
            "stories": "recits",
            "Events": "Événements",
            "events": "evenements",
            "Our partners": "Nos partenaires",
            "partners": "partenaires",
            "Hello.": "Bonjour.",
        }
        for page in (home, story_index, event_index, directory):
            page_translate(page=page, locale=site.fr, strings=strings)
    return site


def page_queries(client, url: str) -> QueryLog:
    """The queries of a second view of ``url`` (the first creates renditions and fills Wagtail's
    caches), which must answer 200."""
    client.get(url)
    with capture_queries() as queries:
        response = client.get(url)
    assert response.status_code == 200
    return queries
