"""Reads behind the public website's listings. Every listing selects its hero image and that
image's renditions with the pages, so a page of 3 or 30 cards costs the same few queries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import F, IntegerField, OuterRef, Prefetch, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from wagtail.images import get_image_model
from wagtail.models import Locale, Page

from bookings.models import Offer, Session
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


def offer_list_bookable(*, kind: str = "", partner_id: int | None = None, limit: int = 12) -> list:
    """Published offers of active partners with seats left in an upcoming session, soonest
    first: one query, each offer annotated with ``seats_left`` (over its upcoming sessions)
    and ``next_starts_at`` (its next session with a seat left)."""
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
