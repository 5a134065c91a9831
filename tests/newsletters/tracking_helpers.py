"""Test data of the tracking tests: a campaign (a bare newsletter page and segment), its
messages and hand-built hits."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from django.utils import timezone
from wagtail.models import Locale, Page

from destination.models import Guest
from newsletters.models import (
    Campaign,
    Message,
    NewsletterIndexPage,
    NewsletterPage,
    Segment,
    TrackingHit,
)
from tests.content.helpers import wagtail_roots_ensure

_n = itertools.count(1)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def campaign_make(name: str = "Winter news", **kwargs: Any) -> Campaign:
    wagtail_roots_ensure()  # a transactional test elsewhere may have flushed them
    index = NewsletterIndexPage.objects.first()
    if index is None:
        index = NewsletterIndexPage(
            title="Newsletters", slug=f"newsletters-{next(_n)}", locale=Locale.get_default()
        )
        Page.get_first_root_node().add_child(instance=index)
    page = NewsletterPage(title=name, slug=f"n-{next(_n)}", subject=name, body=[])
    index.add_child(instance=page)
    segment = Segment.objects.create(name=f"All {next(_n)}", rules={"all": []})
    kwargs.setdefault("status", Campaign.Status.SENDING)
    return Campaign.objects.create(name=name, page=page, segment=segment, **kwargs)


def message_make(
    guest: Guest,
    campaign: Campaign | None = None,
    *,
    status: str = Message.Status.SENT,
    sent_at: dt.datetime | None = None,
    address: str | None = None,
    dedupe_key: str | None = None,
    **kwargs: Any,
) -> Message:
    key = dedupe_key or (
        f"campaign:{campaign.pk}:guest:{guest.pk}" if campaign else f"test:{next(_n)}"
    )
    kwargs.setdefault("purpose", "newsletter")
    return Message.objects.create(
        source=Message.Source.CAMPAIGN if campaign else Message.Source.JOURNEY,
        kind=Message.Kind.MARKETING,
        dedupe_key=key,
        guest=guest,
        address=address or f"guest{guest.pk}@example.org",
        language="en",
        template="announcement",
        status=status,
        skip_reason="no_consent" if status == Message.Status.SKIPPED else "",
        sent_at=(sent_at or timezone.now()) if status == Message.Status.SENT else None,
        **kwargs,
    )


def hit_make(
    message: Message,
    *,
    kind: str = "click",
    verdict: str = "human",
    reason: str = "no_machine_signal",
    at: dt.datetime | None = None,
    link_index: int | None = 1,
    settled: bool = True,
    **kwargs: Any,
) -> TrackingHit:
    campaign_id = None
    if message.dedupe_key.startswith("campaign:"):
        campaign_id = int(message.dedupe_key.split(":")[1])
    return TrackingHit.objects.create(
        message=message,
        campaign_id=kwargs.pop("campaign_id", campaign_id),
        kind=kind,
        link_index=link_index if kind == "click" else None,
        url=kwargs.pop("url", "https://www.val-neige.example/"),
        verdict=verdict,
        reason=reason,
        at=at or timezone.now(),
        ip=kwargs.pop("ip", "203.0.113.0"),
        user_agent=kwargs.pop("user_agent", CHROME),
        settled=settled,
        **kwargs,
    )
