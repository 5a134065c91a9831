"""Reads behind the public website's listings. Every listing selects its hero image and that
image's renditions with the pages, so a page of 3 or 30 cards costs the same few queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.cache import cache
from django.db import models
from django.db.models import F, IntegerField, OuterRef, Prefetch, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from wagtail.images import get_image_model
from wagtail.models import Locale, Page, WorkflowState
from wagtail_localize.models import Translation, TranslationSource

from bookings.models import Offer, Session
from destination.models import Destination
from partners.models import Partner

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from content.models import EventPage, StoryPage


def _with_hero_renditions(queryset: QuerySet) -> QuerySet:
    rendition_model = get_image_model().get_rendition_model()
    return queryset.select_related("hero_image").prefetch_related(
        Prefetch("hero_image__renditions", queryset=rendition_model.objects.all())
    )


def story_list(
    *, parent: Page | None = None, locale: Locale | int | None = None, theme: str = ""
) -> QuerySet[StoryPage]:
    """Live stories, newest first, under ``parent`` or in ``locale``, optionally of one theme."""
    from content.models import StoryPage  # noqa: PLC0415  cycle: content.models imports this module

    stories = StoryPage.objects.live().public()
    if parent is not None:
        stories = stories.child_of(parent)
    if locale is not None:
        stories = stories.filter(locale=locale)  # a Locale or its id
    if theme:
        stories = stories.filter(theme=theme)
    return _with_hero_renditions(stories.order_by("-date", "-pk"))


def story_list_featured(*, locale: Locale | int, limit: int = 3) -> list[StoryPage]:
    """The stories editors ticked for the home page first, topped up with the latest ones; one
    query for the pages (plus their renditions)."""
    return list(story_list(locale=locale).order_by("-featured", "-date", "-pk")[:limit])


def event_list_upcoming(
    *, parent: Page | None = None, locale: Locale | int | None = None
) -> QuerySet[EventPage]:
    """Live events that have not ended yet, soonest first."""
    from content.models import EventPage  # noqa: PLC0415  cycle: content.models imports this module

    events = EventPage.objects.live().public().filter(end_at__gte=timezone.now())
    if parent is not None:
        events = events.child_of(parent)
    if locale is not None:
        events = events.filter(locale=locale)
    return _with_hero_renditions(events.select_related("partner").order_by("start_at", "pk"))


def partner_list_by_kind() -> list[tuple[StrOrPromise, list[Partner]]]:
    """Active partners grouped by kind, in the order kinds are declared; one query."""
    groups: dict[str, list[Partner]] = {}
    for partner in Partner.objects.filter(is_active=True).order_by("name"):
        groups.setdefault(partner.kind, []).append(partner)
    labels = dict(Partner.Kind.choices)
    return [(labels[kind], groups[kind]) for kind in Partner.Kind.values if kind in groups]


def offer_list_bookable(
    *,
    kind: str = "",
    kinds: Sequence[str] = (),
    partner_id: int | None = None,
    limit: int = 12,
) -> list:
    """Published offers of active partners with seats left in an upcoming session, soonest
    first: one query, each offer annotated with ``seats_left`` (over its upcoming sessions)
    and ``next_starts_at`` (its next session with a seat left). ``kind`` or ``kinds`` narrow
    it to one or several kinds of offer."""
    upcoming = Session.objects.filter(offer=OuterRef("pk"), starts_at__gt=timezone.now())
    seats = (
        upcoming.order_by()
        .values("offer")
        .annotate(left=Sum(F("capacity") - F("seats_taken")))
        .values("left")[:1]
    )
    next_open = (
        upcoming.filter(seats_taken__lt=F("capacity")).order_by("starts_at").values("starts_at")
    )[:1]
    offers = Offer.objects.filter(is_published=True, partner__is_active=True)
    if kind:
        offers = offers.filter(kind=kind)
    if kinds:
        offers = offers.filter(kind__in=list(kinds))
    if partner_id:
        offers = offers.filter(partner_id=partner_id)
    offers = (
        offers.annotate(
            seats_left=Coalesce(Subquery(seats, output_field=IntegerField()), 0),
            next_starts_at=Subquery(next_open),
        )
        .filter(seats_left__gt=0, next_starts_at__isnull=False)
        .select_related("partner")
        .order_by("next_starts_at", "pk")
    )
    return list(offers[:limit])


# --- The brand in Wagtail's admin -------------------------------------------------------------

BRAND_NAME_CACHE_KEY = "content:brand-name"


def brand_name_cached() -> str:
    """The brand name for screens that have no page context (Wagtail's admin title, dashboard
    and sign-in page): read from the ``Destination`` setting, cached across requests and
    dropped from the cache when the setting is saved (``content.apps``)."""

    name = cache.get(BRAND_NAME_CACHE_KEY)
    if name is None:
        setting = Destination.objects.only("brand_name", "name").first() or Destination()
        name = setting.brand_name or setting.name
        cache.set(BRAND_NAME_CACHE_KEY, name, 60 * 60)
    return name


def brand_name_forget(**kwargs: object) -> None:
    cache.delete(BRAND_NAME_CACHE_KEY)


# --- Translations out of step with their source -----------------------------------------------


@dataclass(frozen=True)
class TranslationSync:
    """Where a page stands with wagtail-localize: ``source_id`` is its TranslationSource (the
    "Sync translated pages" action takes it); ``stale_locales`` are the languages whose
    translation was last synced before the source page was last published."""

    source_id: int
    is_source: bool
    stale_locales: tuple[str, ...]

    @property
    def is_stale(self) -> bool:
        return bool(self.stale_locales)


def translation_sync_get(*, page: Page) -> TranslationSync | None:
    """How ``page`` stands against its translation source, one query; None when it is neither a
    synced source nor a synced translation.

    wagtail-localize freezes the source page's content into a TranslationSource when a page is
    submitted for translation and each time "Sync translated pages" runs (``last_updated_at``).
    A source page published after that moment has changes its translations have not received:
    the source is out of date for every enabled translation, and so is each translation."""

    source_published = Page.objects.filter(
        translation_key=OuterRef("source__object_id"), locale_id=OuterRef("source__locale_id")
    ).values("last_published_at")[:1]
    rows = list(
        Translation.objects.filter(source__object_id=page.translation_key, enabled=True)
        .annotate(source_published_at=Subquery(source_published))
        .values(
            "source_id",
            "source__locale_id",
            "source__last_updated_at",
            "source_published_at",
            "target_locale_id",
            "target_locale__language_code",
        )
        .order_by("target_locale__language_code")
    )
    if not rows:
        return None
    is_source = rows[0]["source__locale_id"] == page.locale_id
    if not is_source:
        rows = [row for row in rows if row["target_locale_id"] == page.locale_id]
        if not rows:
            return None
    stale = tuple(
        row["target_locale__language_code"]
        for row in rows
        if row["source_published_at"] is not None
        and row["source_published_at"] > row["source__last_updated_at"]
    )
    return TranslationSync(source_id=rows[0]["source_id"], is_source=is_source, stale_locales=stale)


def translation_list_stale(*, limit: int = 10) -> list[Page]:
    """Source pages published after their last sync to their translations, most recently
    published first: what the dashboard's "translations to update" panel lists (one query)."""

    sources = TranslationSource.objects.filter(
        object_id=OuterRef("translation_key"),
        locale_id=OuterRef("locale_id"),
        last_updated_at__lt=OuterRef("last_published_at"),
        translations__enabled=True,
    )
    return list(
        Page.objects.filter(last_published_at__isnull=False)
        .annotate(stale_source_id=Subquery(sources.values("pk")[:1]))
        .filter(stale_source_id__isnull=False)
        .select_related("locale")
        .order_by("-last_published_at")[:limit]
    )


# --- The editors' dashboard ---------------------------------------------------------------------


def story_list_recent(*, limit: int = 5) -> list[StoryPage]:
    """The latest stories in the default language (translations follow them), drafts
    included, newest first."""
    from content.models import StoryPage  # noqa: PLC0415  content.models imports this module

    return list(
        StoryPage.objects.filter(locale=Locale.get_default())
        .select_related("locale")
        .order_by("-date", "-latest_revision_created_at", "-pk")[:limit]
    )


def page_list_awaiting_approval(*, limit: int = 10) -> list[Page]:
    """Pages submitted to a moderation workflow and not yet approved or sent back, oldest
    submission first, whoever the reviewer is (one query)."""

    return list(
        Page.objects.filter(_workflow_states__status=WorkflowState.STATUS_IN_PROGRESS)
        .annotate(submitted_at=models.Min("_workflow_states__created_at"))
        .select_related("locale")
        .order_by("submitted_at", "pk")[:limit]
    )


def event_list_next(*, limit: int = 5) -> list[EventPage]:
    """Upcoming events in the default language, live or not, soonest first (one query)."""
    from content.models import EventPage  # noqa: PLC0415  content.models imports this module

    return list(
        EventPage.objects.filter(end_at__gte=timezone.now(), locale=Locale.get_default())
        .select_related("locale")
        .order_by("start_at", "pk")[:limit]
    )
