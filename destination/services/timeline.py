from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from destination.models import Guest, TimelineEvent, Visibility

if TYPE_CHECKING:
    from partners.models import Partner


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
    """Append one entry to a guest's 360° timeline. ``title`` is stored text, so write it in the
    destination's default language or keep it neutral; ``data`` carries what a template needs."""
    return TimelineEvent.objects.create(
        guest=guest,
        kind=kind,
        occurred_at=occurred_at,
        title=title[:200],
        partner=partner,
        visibility=visibility,
        body=body,
        data=data or {},
        content_type=ContentType.objects.get_for_model(source) if source is not None else None,
        object_id=source.pk if source is not None else None,
    )
