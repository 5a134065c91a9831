"""Builds the demo website in English and French: ``manage.py seed_content [--if-empty]``.

Independent of ``seed_demo`` (guests and partners): it creates no partner, and the partner
directory lists whatever partners exist when a page is served.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone
from wagtail.models import Locale, Page

from content import demo_content as text
from content.demo_images import SCENES, demo_images_build
from content.models import (
    EventIndexPage,
    EventPage,
    HomePage,
    LegalFooter,
    OfferPage,
    PartnerDirectoryPage,
    StoryIndexPage,
    StoryPage,
    WebsiteTexts,
)
from content.services import (
    editorial_groups_ensure,
    image_import,
    locales_ensure,
    page_translate,
    site_root_set,
)
from destination.models import Destination

PLACEHOLDER_SLUG = "wagtail-welcome-placeholder"


class Command(BaseCommand):
    help = (
        "Builds the demo website (home, stories, events, partner directory) in English and French."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing when a home page already exists (safe on every start).",
        )
        parser.add_argument(
            "--stories",
            type=int,
            default=len(text.STORIES),
            help="How many demo stories to write (tests use a few).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if HomePage.objects.exists():
            if options["if_empty"]:
                self.stdout.write("seed_content: the site already has a home page, nothing to do.")
                return
            # Building a second tree next to an edited site would only duplicate pages.
            raise CommandError("The site already has a home page; use --if-empty to skip.")
        home = build_site(story_count=options["stories"], progress=self.stdout.write)
        pages = Page.objects.filter(depth__gte=2).count()
        self.stdout.write(
            self.style.SUCCESS(
                f"seed_content: {pages} pages in {Locale.objects.count()} languages, "
                f"home at {home.url_path}."
            )
        )


class _Builder:
    def __init__(
        self, en: Locale, brand_name: str, progress: Callable[[str], None] | None = None
    ) -> None:
        self.en = en
        self.brand_name = brand_name
        self.progress = progress
        self.images: dict[str, Any] = {}
        # Source page -> its English->French strings, translated once the English tree exists.
        self.translations: list[tuple[Page, dict[str, str]]] = []

    def load_images(self) -> None:
        files = demo_images_build()
        for key, path in files.items():
            title = f"{self.brand_name} logo" if key == "logo" else SCENES[key][0]
            self.images[key] = image_import(path, title)
        if self.progress is not None:
            self.progress(f"  images: {len(self.images)} imported")

    def image_id(self, key: str) -> int:
        return self.images[key].pk

    def stream(self, blocks: list[text.Block]) -> tuple[list[dict], dict[str, str]]:
        """Raw StreamField data with image keys replaced by ids, and the blocks' string pairs."""
        data: list[dict] = []
        pairs: dict[str, str] = {}
        for block in blocks:
            value: Any = block.value
            if block.type == "image":
                value = {**value, "image": self.image_id(value["image"])}
            elif block.type == "gallery":
                value = {
                    **value,
                    "images": [
                        {**item, "image": self.image_id(item["image"])} for item in value["images"]
                    ],
                }
            data.append({"type": block.type, "value": value})
            pairs.update(dict(block.pairs))
        return data, pairs

    def add(self, parent: Page, page: Page, pairs: dict[str, str]) -> Page:
        parent.add_child(instance=page)
        page.save_revision().publish()
        self.translations.append((page, pairs))
        if self.progress is not None and len(self.translations) % 5 == 0:
            self.progress(f"  pages: {len(self.translations)} published in English")
        return page

    @staticmethod
    def pairs(fields: dict[str, tuple[str, str]]) -> dict[str, str]:
        return dict(fields.values())


@transaction.atomic
def build_site(
    *, story_count: int | None = None, progress: Callable[[str], None] | None = None
) -> HomePage:
    editorial_groups_ensure()
    locales = locales_ensure()
    en = locales["en"]
    brand = Destination.load()
    builder = _Builder(en, brand.brand_name or brand.name, progress)
    builder.load_images()

    root = Page.get_first_root_node()
    # Wagtail's welcome page holds the slug "home" until the new home replaces it as site root.
    Page.objects.filter(depth=2, slug="home", content_type__model="page").update(
        slug=PLACEHOLDER_SLUG
    )
    home = builder.add(
        root,
        HomePage(
            title=text.HOME["title"][0],
            slug=text.HOME["slug"][0],
            locale=en,
            hero_title=text.HOME["hero_title"][0],
            intro=text.HOME["intro"][0],
            hero_button_label=text.HOME["hero_button_label"][0],
            search_description=text.HOME["search_description"][0],
            hero_image_id=builder.image_id("sunrise-peaks"),
        ),
        builder.pairs(text.HOME),
    )
    site_root_set(home)

    story_index = builder.add(
        home,
        StoryIndexPage(
            title=text.STORY_INDEX["title"][0],
            slug=text.STORY_INDEX["slug"][0],
            intro=text.STORY_INDEX["intro"][0],
            hero_image_id=builder.image_id("bluebird-day"),
            show_in_menus=True,
        ),
        builder.pairs(text.STORY_INDEX),
    )
    today = timezone.localdate()
    for story in text.STORIES[:story_count]:
        body, pairs = builder.stream([*story.body, text.STORY_SIGNUP])
        builder.add(
            story_index,
            StoryPage(
                title=story.title[0],
                slug=story.slug[0],
                intro=story.intro[0],
                theme=story.theme,
                date=today - dt.timedelta(days=story.days_ago),
                author_name=story.author,
                featured=story.featured,
                hero_image_id=builder.image_id(story.image),
                body=body,
            ),
            {**pairs, **dict([story.title, story.slug, story.intro])},
        )

    event_index = builder.add(
        home,
        EventIndexPage(
            title=text.EVENT_INDEX["title"][0],
            slug=text.EVENT_INDEX["slug"][0],
            intro=text.EVENT_INDEX["intro"][0],
            hero_image_id=builder.image_id("village-night"),
            show_in_menus=True,
        ),
        builder.pairs(text.EVENT_INDEX),
    )
    evening = timezone.localtime().replace(hour=18, minute=0, second=0, microsecond=0)
    for event in text.EVENTS:
        body, pairs = builder.stream(event.body)
        start = evening + dt.timedelta(days=event.days_from_now)
        builder.add(
            event_index,
            EventPage(
                title=event.title[0],
                slug=event.slug[0],
                intro=event.intro[0],
                start_at=start,
                end_at=start + dt.timedelta(hours=event.duration_hours),
                place_name=event.place[0],
                address=event.address,
                hero_image_id=builder.image_id(event.image),
                body=body,
            ),
            {**pairs, **dict([event.title, event.slug, event.intro, event.place])},
        )

    builder.add(
        home,
        PartnerDirectoryPage(
            title=text.DIRECTORY["title"][0],
            slug=text.DIRECTORY["slug"][0],
            intro=text.DIRECTORY["intro"][0],
            hero_image_id=builder.image_id("summer-lake"),
            show_in_menus=True,
        ),
        builder.pairs(text.DIRECTORY),
    )

    for kind, image, fields in text.OFFER_PAGES:
        builder.add(
            home,
            OfferPage(
                title=fields["title"][0],
                slug=fields["slug"][0],
                intro=fields["intro"][0],
                offer_kind=kind,
                hero_image_id=builder.image_id(image),
                show_in_menus=True,
            ),
            builder.pairs(fields),
        )

    # Parents first: wagtail-localize places each translation under its parent's translation.
    for number, (page, pairs) in enumerate(builder.translations, start=1):
        page_translate(page=page, locale=locales["fr"], strings=pairs)
        if progress is not None and number % 5 == 0:
            progress(f"  pages: {number} of {len(builder.translations)} translated into French")

    _brand_defaults(builder)
    return home


def _brand_defaults(builder: _Builder) -> None:
    """Fills the brand settings the staff have left empty; never overwrites their choices."""
    brand = Destination.load()
    defaults = {
        "logo": builder.images["logo"],
        "instagram_url": "https://www.instagram.com/",
        "facebook_url": "https://www.facebook.com/",
        "youtube_url": "https://www.youtube.com/",
        "legal_footer": text.LEGAL_FOOTER_EN % {"brand": builder.brand_name},
        "default_sender_name": brand.brand_name or brand.name,
        "default_sender_email": "hello@destination.example",
    }
    changed = [name for name, value in defaults.items() if not getattr(brand, name)]
    for name in changed:
        setattr(brand, name, defaults[name])
    if changed:
        brand.save()
    # The French legal footer; English readers get the brand's default one above.
    texts = WebsiteTexts.load()
    if not texts.legal_footers.filter(language="fr").exists():
        LegalFooter.objects.create(
            texts=texts, language="fr", text=text.LEGAL_FOOTER_FR % {"brand": builder.brand_name}
        )
