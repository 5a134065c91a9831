"""The guest's 360° timeline and the "last real contact" clock, written in one place.

- ``timeline_add`` appends one entry; ``timeline_add_many`` appends many in one INSERT (set-based
  jobs, a booking's whole party). Both store ``title`` as text: write it in the destination's
  default language or keep it neutral; ``data`` carries what a template needs.
- ``guest_contact_touch`` moves ``Guest.last_contact_at`` forward (never backwards) for guests
  who had *real* contact: an interaction, a booking, a human click in an email. An email sent or
  opened is not contact. The retention job (``gdpr.guests_erase_inactive``) reads this clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q

from destination.models import Guest, TimelineEvent, Visibility

if TYPE_CHECKING:
    from partners.models import Partner  # types only

TITLE_MAX = 200


@dataclass(frozen=True)
class TimelineItem:
    """One entry for ``timeline_add_many``; ``source`` is any row the entry is about."""

    guest_id: int
    kind: TimelineEvent.Kind | str
    occurred_at: datetime
    title: str
    partner_id: int | None = None
    visibility: Visibility | str = Visibility.SHARED
    body: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    source: models.Model | None = None


def timeline_add(
    *,
    guest: Guest,
    kind: TimelineEvent.Kind | str,
    occurred_at: datetime,
    title: str,
    partner: Partner | None = None,
    visibility: Visibility | str = Visibility.SHARED,
    body: str = "",
    data: dict[str, Any] | None = None,
    source: models.Model | None = None,
) -> TimelineEvent:
    """Append one entry to a guest's 360° timeline."""
    return TimelineEvent.objects.create(
        guest=guest,
        kind=kind,
        occurred_at=occurred_at,
        title=title[:TITLE_MAX],
        partner=partner,
        visibility=visibility,
        body=body,
        data=data or {},
        content_type=ContentType.objects.get_for_model(source) if source is not None else None,
        object_id=source.pk if source is not None else None,
    )


def timeline_add_many(*, items: Sequence[TimelineItem]) -> list[TimelineEvent]:
    """Append many entries in one INSERT (content types looked up once per model), in the
    order given. Returns the rows (with primary keys on PostgreSQL and SQLite)."""
    if not items:
        return []
    content_types: dict[type[models.Model], ContentType] = {}
    rows = []
    for item in items:
        content_type = None
        if item.source is not None:
            model = type(item.source)
            if model not in content_types:
                content_types[model] = ContentType.objects.get_for_model(model)
            content_type = content_types[model]
        rows.append(
            TimelineEvent(
                guest_id=item.guest_id,
                kind=item.kind,
                occurred_at=item.occurred_at,
                title=item.title[:TITLE_MAX],
                partner_id=item.partner_id,
                visibility=item.visibility,
                body=item.body,
                data=item.data,
                content_type=content_type,
                object_id=item.source.pk if item.source is not None else None,
            )
        )
    return TimelineEvent.objects.bulk_create(rows)


def guest_contact_touch(*, guest_ids: Iterable[int], at: datetime) -> int:
    """Real contact with these guests at ``at``: move ``last_contact_at`` forward, never back
    (a late entry for an old visit must not shorten the retention clock). One UPDATE; returns
    the number of guests moved."""
    ids = sorted(set(guest_ids))
    if not ids:
        return 0
    return (
        Guest.objects.filter(pk__in=ids)
        .filter(Q(last_contact_at__isnull=True) | Q(last_contact_at__lt=at))
        .update(last_contact_at=at)
    )
