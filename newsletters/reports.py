"""Campaign and journey reports (reads): what was delivered and what people did with it.

- **Delivered**: messages SENT. **Bounces** and **complaints**: those of the messages' addresses
  suppressed for that reason after the message was sent (``Suppression``, fed by the ESP's
  webhooks). **Unsubscribes**: the withdrawals proved by a message's link
  (``ConsentProof`` with method ``email_link`` naming the message).
- **Human unique opens**: messages with a human open kept per guest (the guest granted
  profiling); opens of the others are only counted (``TrackingCount``, not unique, shown as "also
  counted without the guest"). Opens by Gmail's or Yahoo's image proxy are human, split out.
- **Human unique clicks**: messages with a settled human click (never the trap link); clicks
  still waiting for the settle pass are shown as pending. **Machine events** (opens and clicks)
  are shown apart, by reason.
- **Revenue per partner**: real bookings (confirmed, checked in, completed) by a recipient made
  within ``NEWSLETTER_ATTRIBUTION_DAYS`` after one of their human clicks on this campaign or
  journey, summed per booking partner. A booking after clicks on two campaigns counts for both.

Each report is a fixed number of queries whatever the number of messages or steps
(``tests/newsletters/test_reports.py`` holds them to it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import (
    BigIntegerField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Lower
from django.utils.translation import gettext_lazy as _

from bookings.models import Booking
from destination.models import ConsentProof
from newsletters.models import (
    Campaign,
    EnrolmentStep,
    Journey,
    Message,
    Suppression,
    TrackingCount,
    TrackingHit,
)
from newsletters.segments import REAL_BOOKING_STATUSES
from newsletters.tracking import REAL_CLICK, TRAP_LINK_INDEX, Reason

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

HUMAN = TrackingHit.Verdict.HUMAN
MACHINE = TrackingHit.Verdict.MACHINE
OPEN = TrackingHit.Kind.OPEN
CLICK = TrackingHit.Kind.CLICK
REASON_LABELS: dict[str, StrOrPromise] = {
    Reason.TRAP_LINK: _("hidden trap link fetched"),
    Reason.NOT_GET: _("not a GET (link checker)"),
    Reason.NO_AGENT: _("no user agent"),
    Reason.SCANNER_AGENT: _("security scanner (by its agent)"),
    Reason.SCANNER_NETWORK: _("security scanner (by its network)"),
    Reason.TRAP_FETCHER: _("same address as the trap fetcher"),
    Reason.APPLE_PRIVACY_PREFETCH: _("Apple Mail privacy prefetch"),
    Reason.TOO_SOON: _("seconds after sending"),
    Reason.LINK_BURST: _("many links at once"),
    Reason.BOT_AGENT: _("robot or script"),
    Reason.IMAGE_PROXY: _("Gmail or Yahoo image proxy"),
    Reason.NO_MACHINE_SIGNAL: _("no machine signal"),
}


def reason_label(reason: str) -> str:
    label = REASON_LABELS.get(reason)
    return str(label) if label is not None else reason


def _empty() -> dict[str, Any]:
    return {
        "sent": 0,
        "delivered": 0,
        "bounced": 0,
        "complained": 0,
        "unsubscribed": 0,
        "human_opens_unique": 0,
        "human_opens_proxy": 0,
        "human_opens_counted": 0,
        "machine_opens": {},
        "human_clicks_unique": 0,
        "human_clicks": 0,
        "clicks_pending": 0,
        "machine_clicks": {},
        "links": [],
        "revenue": [],
        "revenue_cents": 0,
        "attributed_bookings": 0,
    }


def _suppressed(reason: str, prefix: str) -> Exists:
    return Exists(
        Suppression.objects.filter(
            address=Lower(OuterRef(f"{prefix}address")),
            reason=reason,
            created_at__gte=OuterRef(f"{prefix}sent_at"),
        )
    )


def _message_counts(prefix: str = "") -> dict[str, Count]:
    """Sent, delivered, bounced and complained, over messages (``prefix`` "") or over rows
    that reach their message through ``prefix`` (a journey's due rows: "message__")."""
    sent = Q(**{f"{prefix}status": Message.Status.SENT})
    return {
        "sent": Count("pk"),
        "delivered": Count("pk", filter=sent),
        "bounced": Count("pk", filter=sent & Q(_suppressed(Suppression.Reason.BOUNCE, prefix))),
        "complained": Count(
            "pk", filter=sent & Q(_suppressed(Suppression.Reason.COMPLAINT, prefix))
        ),
    }


def _unsubscribed_message_ids() -> QuerySet[Any]:
    return (
        ConsentProof.objects.filter(method=ConsentProof.Method.EMAIL_LINK)
        .annotate(message_pk=Cast(KeyTextTransform("message", "evidence"), BigIntegerField()))
        .filter(message_pk__isnull=False)
        .values("message_pk")
    )


def _hit_counts(hits: QuerySet[TrackingHit], group: str | None) -> list[dict[str, Any]]:
    """Two aggregates over the hits: uniques per group, then counts per kind, verdict and
    reason per group (one query each)."""
    keys = [group] if group else []
    aggregates = {
        "human_opens_unique": Count("message", distinct=True, filter=Q(kind=OPEN, verdict=HUMAN)),
        "human_clicks_unique": Count("message", distinct=True, filter=REAL_CLICK),
        "human_clicks": Count("pk", filter=REAL_CLICK),
        "clicks_pending": Count("pk", filter=Q(kind=CLICK, settled=False)),
    }
    if group is None:
        uniques: list[dict[str, Any]] = [hits.aggregate(**aggregates)]
    else:
        uniques = list(hits.values(group).annotate(**aggregates).order_by())
    breakdown = list(
        hits.values(*keys, "kind", "verdict", "reason")
        .annotate(n=Count("pk"))
        .order_by()
        .filter(Q(verdict=MACHINE) | Q(kind=OPEN, reason=Reason.IMAGE_PROXY))
    )
    return [{"uniques": row} for row in uniques] + [{"breakdown": row} for row in breakdown]


def _fill(
    stats: dict[Any, dict[str, Any]],
    key_of: Any,
    *,
    messages: Iterable[Any],
    hit_rows: Iterable[dict[str, Any]],
    counts: Iterable[Any],
    unsubscribed: Iterable[Any],
) -> None:
    for row in messages:
        entry = stats.setdefault(key_of(row), _empty())
        for name in ("delivered", "bounced", "complained"):
            entry[name] += row[name]
        entry["sent"] += row["sent"]
    for item in hit_rows:
        if "uniques" in item:
            row = item["uniques"]
            entry = stats.setdefault(key_of(row), _empty())
            for name in (
                "human_opens_unique",
                "human_clicks_unique",
                "human_clicks",
                "clicks_pending",
            ):
                entry[name] += row[name]
            continue
        row = item["breakdown"]
        entry = stats.setdefault(key_of(row), _empty())
        if row["verdict"] == HUMAN:
            entry["human_opens_proxy"] += row["n"]
            continue
        bucket = entry["machine_opens" if row["kind"] == OPEN else "machine_clicks"]
        bucket[row["reason"]] = bucket.get(row["reason"], 0) + row["n"]
    for row in counts:
        entry = stats.setdefault(key_of(row), _empty())
        if row["kind"] != OPEN:
            continue
        if row["verdict"] == HUMAN:
            entry["human_opens_counted"] += row["n"]
            if row["reason"] == Reason.IMAGE_PROXY:
                entry["human_opens_proxy"] += row["n"]
        else:
            entry["machine_opens"][row["reason"]] = (
                entry["machine_opens"].get(row["reason"], 0) + row["n"]
            )
    for row in unsubscribed:
        stats.setdefault(key_of(row), _empty())["unsubscribed"] += row["n"]


def _finish(entry: dict[str, Any]) -> dict[str, Any]:
    for name in ("machine_opens", "machine_clicks"):
        entry[name] = sorted(
            (
                {"reason": reason, "label": reason_label(reason), "count": n}
                for reason, n in entry[name].items()
            ),
            key=lambda item: (-item["count"], item["reason"]),
        )
        entry[f"{name}_total"] = sum(item["count"] for item in entry[name])
    delivered = entry["delivered"]
    entry["human_opens"] = entry["human_opens_unique"] + entry["human_opens_counted"]

    def rate(n: int) -> float:
        return round(100 * n / delivered, 1) if delivered else 0.0

    entry["click_rate"] = rate(entry["human_clicks_unique"])
    entry["open_rate"] = rate(entry["human_opens"])
    entry["unsubscribe_rate"] = rate(entry["unsubscribed"])
    return entry


def _revenue(
    click_hits: QuerySet[TrackingHit], *, days: int, partner_id: int | None = None
) -> list[dict[str, Any]]:
    """Real bookings by a recipient within ``days`` after one of their human clicks among
    ``click_hits``, per booking partner (only ``partner_id``'s when given): one query."""
    window = dt.timedelta(days=days)
    clicked = click_hits.filter(
        REAL_CLICK,
        message__guest=OuterRef("booker"),
        at__lte=OuterRef("created_at"),
        at__gte=OuterRef("created_at") - window,
    )
    bookings = Booking.objects.filter(status__in=REAL_BOOKING_STATUSES)
    if partner_id is not None:
        bookings = bookings.filter(partner_id=partner_id)
    rows = (
        bookings.filter(Exists(clicked))
        .values("partner_id", "partner__name")
        .annotate(bookings=Count("pk"), revenue_cents=Sum("total_cents"))
        .order_by("-revenue_cents", "partner__name")
    )
    return [
        {
            "partner_id": row["partner_id"],
            "partner": row["partner__name"],
            "bookings": row["bookings"],
            "revenue_cents": row["revenue_cents"] or 0,
            "revenue": (row["revenue_cents"] or 0) / 100,
        }
        for row in rows
    ]


def _links(hits: QuerySet[TrackingHit]) -> list[dict[str, Any]]:
    rows = (
        hits.filter(kind=CLICK, link_index__gt=TRAP_LINK_INDEX)
        .values("link_index", "url")
        .annotate(
            human=Count("message", distinct=True, filter=Q(verdict=HUMAN, settled=True)),
            machine=Count("pk", filter=Q(verdict=MACHINE)),
        )
        .order_by("link_index", "url")
    )
    return [dict(row) for row in rows]


def _with_revenue(entry: dict[str, Any], revenue: list[dict[str, Any]]) -> dict[str, Any]:
    entry["revenue"] = revenue
    entry["revenue_cents"] = sum(r["revenue_cents"] for r in revenue)
    entry["revenue_total"] = entry["revenue_cents"] / 100
    entry["attributed_bookings"] = sum(r["bookings"] for r in revenue)
    return entry


def campaign_report(
    campaign: Campaign,
    *,
    attribution_days: int | None = None,
    revenue_of_partner: int | None = None,
) -> dict[str, Any]:
    """The campaign's figures (see the module docstring): seven queries. With
    ``revenue_of_partner``, the revenue counts that partner's bookings only (a partner reading
    its own campaign's report does not learn other partners' bookings)."""
    days = settings.NEWSLETTER_ATTRIBUTION_DAYS if attribution_days is None else attribution_days
    messages = Message.objects.filter(dedupe_key__startswith=campaign.dedupe_prefix)
    totals = messages.aggregate(**_message_counts())
    hits = TrackingHit.objects.filter(campaign=campaign)
    counts = TrackingCount.objects.filter(campaign=campaign).values(
        "kind", "verdict", "reason", n=F("count")
    )
    unsubscribed = messages.filter(pk__in=_unsubscribed_message_ids()).aggregate(n=Count("pk"))
    stats: dict[Any, dict[str, Any]] = {}
    _fill(
        stats,
        lambda row: None,
        messages=[totals],
        hit_rows=_hit_counts(hits, None),
        counts=counts,
        unsubscribed=[unsubscribed],
    )
    entry = _finish(stats[None])
    entry["links"] = _links(hits)
    entry["attribution_days"] = days
    return _with_revenue(entry, _revenue(hits, days=days, partner_id=revenue_of_partner))


def journey_report(journey: Journey, *, attribution_days: int | None = None) -> dict[str, Any]:
    """The journey's figures per step, in step order, and its revenue per partner: seven
    queries whatever the number of steps."""
    days = settings.NEWSLETTER_ATTRIBUTION_DAYS if attribution_days is None else attribution_days
    steps = list(journey.steps.order_by("sort_order", "pk"))
    dues = EnrolmentStep.objects.filter(step__journey=journey, message__isnull=False)
    message_rows = dues.values("step_id").annotate(**_message_counts("message__")).order_by()
    hits = TrackingHit.objects.filter(journey_step__journey=journey)
    counts = TrackingCount.objects.filter(journey_step__journey=journey).values(
        "kind", "verdict", "reason", step_id=F("journey_step_id"), n=F("count")
    )
    unsubscribed = (
        dues.filter(message_id__in=_unsubscribed_message_ids())
        .values("step_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    stats: dict[Any, dict[str, Any]] = {step.pk: _empty() for step in steps}
    hit_rows = _hit_counts(hits.annotate(step_id=F("journey_step_id")), "step_id")
    _fill(
        stats,
        lambda row: row["step_id"],
        messages=message_rows,
        hit_rows=hit_rows,
        counts=counts,
        unsubscribed=unsubscribed,
    )
    rows = []
    for step in steps:
        rows.append({"step": step, **_finish(stats[step.pk])})
    total = _finish(_sum(stats.values()))
    total["attribution_days"] = days
    return {
        "journey": journey,
        "steps": rows,
        "total": _with_revenue(total, _revenue(hits, days=days)),
    }


def _sum(entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    total = _empty()
    for entry in entries:
        for name, value in entry.items():
            if isinstance(total.get(name), int) and isinstance(value, int):
                total[name] += value
            elif name in ("machine_opens", "machine_clicks"):
                for item in value if isinstance(value, list) else []:
                    total[name][item["reason"]] = total[name].get(item["reason"], 0) + item["count"]
    return total
