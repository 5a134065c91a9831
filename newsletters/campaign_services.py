"""Writes of campaigns: a newsletter page sent to a saved segment, by the destination or by one
partner under the shared brand.

- ``newsletter_test_send``: the editor's test, a transactional message (source "test") to their
  own address: no consent, never counted toward the frequency cap.
- ``campaign_submit`` / ``campaign_approve``: a partner's campaign waits for the tourist office
  (a member of the steward partner) before it may be scheduled or sent.
- ``campaign_schedule`` (a due time in the row; the beat tick ``campaigns_start_due`` starts it,
  no Celery ETA) and ``campaign_send_now``.
- ``campaign_start`` snapshots the recipients at that moment in SQL: one
  ``INSERT ... SELECT ... ON CONFLICT (dedupe_key) DO NOTHING`` of ``Message`` rows from the
  segment's queryset, keyed "campaign:<id>:guest:<id>"; a second start (double click, retried
  task, two ticks) inserts nothing and sends nothing twice. Tasks per batch of message ids then
  send them (``newsletters.fastsend``): consent, suppression and the cap re-checked per recipient
  at send time.
- ``campaign_pause`` holds the remaining QUEUED rows (their due time moves to ``HELD_UNTIL``, so
  neither the campaign's tasks nor the pipeline's tick claims them); ``campaign_resume`` releases
  and sends the rest.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Concat, JSONObject
from django.utils import timezone
from django.utils.translation import gettext as _

from destination.errors import DomainError, PermissionRefused
from destination.models import GuestEmail
from newsletters.fastsend import messages_send_fast
from newsletters.models import Campaign, Message
from newsletters.pages import (
    NewsletterPage,
    newsletter_email_name,
    newsletter_revisions,
    recipient_language,
)
from newsletters.segments import segment_queryset
from newsletters.services import message_enqueue
from newsletters.tasks import campaign_send_batch_task
from partners.models import Membership, Partner

if TYPE_CHECKING:
    from destination.models import User

# Held rows of a paused campaign: due never (until resumed).
HELD_UNTIL = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
SEND_BATCH_SIZE = 500
# The snapshot's select list, in the order of the INSERT's columns after uuid.
SNAPSHOT_COLUMNS = (
    "m_source", "m_kind", "m_dedupe", "m_address", "m_language", "m_template", "m_context",
    "m_guest", "m_purpose",
)  # fmt: skip


class CampaignError(DomainError):
    pass


def _queue_kwargs() -> dict[str, Any]:
    queue = settings.NEWSLETTER_CELERY_QUEUE
    return {"queue": queue} if queue else {}


# --- The editor's test -----------------------------------------------------------------------


def newsletter_test_send(*, page: NewsletterPage, user: User) -> tuple[Message, bool]:
    """Send the page's latest version to the editor, in the page's language. One test per
    (revision, editor): saving again makes a new revision and a new test."""
    if not user.email:
        raise CampaignError(_("Your account has no email address to send the test to."))
    revision = page.latest_revision or page.save_revision(user=user)
    return message_enqueue(
        source=Message.Source.TEST,
        kind=Message.Kind.TRANSACTIONAL,
        dedupe_key=f"test:newsletter:{revision.pk}:user:{user.pk}",
        address=user.email,
        language=recipient_language(page.locale.language_code),
        template=newsletter_email_name(revision.pk),
        context={"first_name": user.first_name or user.email.split("@")[0]},
    )


# --- Approval --------------------------------------------------------------------------------


def user_is_steward(user: User) -> bool:
    """A member of the tourist office (the steward partner), or a superuser."""
    if user.is_superuser:
        return True
    return Membership.objects.filter(
        user=user, partner__kind=Partner.Kind.TOURIST_OFFICE, partner__is_active=True
    ).exists()


def _lock(campaign: Campaign) -> Campaign:
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


@transaction.atomic
def campaign_submit(*, campaign: Campaign, actor: User | None) -> Campaign:
    """A draft is ready: the destination's at once, a partner's once the tourist office approves."""
    campaign = _lock(campaign)
    if campaign.status != Campaign.Status.DRAFT:
        raise CampaignError(_("Only a draft can be submitted."))
    if campaign.sender_partner_id is None:
        campaign.status = Campaign.Status.READY
    else:
        campaign.status = Campaign.Status.PENDING_APPROVAL
    campaign.save(update_fields=["status", "updated_at"])
    return campaign


@transaction.atomic
def campaign_approve(*, campaign: Campaign, actor: User) -> Campaign:
    if not user_is_steward(actor):
        raise PermissionRefused(_("Only the tourist office approves partner campaigns."))
    campaign = _lock(campaign)
    if campaign.status != Campaign.Status.PENDING_APPROVAL:
        raise CampaignError(_("Only a campaign waiting for approval can be approved."))
    campaign.status = Campaign.Status.READY
    campaign.approved_by = actor
    campaign.approved_at = timezone.now()
    campaign.save(update_fields=["status", "approved_by", "approved_at", "updated_at"])
    return campaign


# --- Scheduling and starting -----------------------------------------------------------------


@transaction.atomic
def campaign_schedule(*, campaign: Campaign, at: dt.datetime, actor: User | None) -> Campaign:
    campaign = _lock(campaign)
    if campaign.status not in (Campaign.Status.READY, Campaign.Status.SCHEDULED):
        raise CampaignError(_("Only a campaign ready to send can be scheduled."))
    campaign.status = Campaign.Status.SCHEDULED
    campaign.scheduled_at = at
    campaign.save(update_fields=["status", "scheduled_at", "updated_at"])
    return campaign


@transaction.atomic
def campaign_send_now(*, campaign: Campaign, actor: User | None) -> Campaign:
    """Start now. A second click finds the campaign sending (or done) and does nothing."""
    campaign = _lock(campaign)
    if campaign.status in (Campaign.Status.SENDING, Campaign.Status.PAUSED, Campaign.Status.DONE):
        return campaign
    if campaign.status not in (Campaign.Status.READY, Campaign.Status.SCHEDULED):
        raise CampaignError(_("This campaign is not ready to send."))
    return _campaign_start(campaign, now=timezone.now())


def campaigns_start_due(*, now: dt.datetime | None = None) -> int:
    """The beat tick: start scheduled campaigns that are due, each in its own transaction,
    skipping rows another tick holds."""
    now = now or timezone.now()
    started = 0
    while True:
        with transaction.atomic():
            campaign = (
                Campaign.objects.select_for_update(skip_locked=True)
                .filter(status=Campaign.Status.SCHEDULED, scheduled_at__lte=now)
                .order_by("scheduled_at", "pk")
                .first()
            )
            if campaign is None:
                return started
            _campaign_start(campaign, now=now)
            started += 1


def _campaign_start(campaign: Campaign, *, now: dt.datetime) -> Campaign:
    """Inside the caller's transaction, with the campaign row locked."""
    if campaign.sender_partner_id is not None and campaign.approved_at is None:
        raise CampaignError(_("The tourist office has not approved this campaign."))
    revisions = newsletter_revisions(campaign.page)
    if not revisions:
        raise CampaignError(_("Publish the newsletter before sending it."))
    campaign.revisions = dict(revisions)
    inserted = recipients_snapshot(campaign=campaign, now=now)
    campaign.status = Campaign.Status.SENDING
    campaign.started_at = now
    campaign.recipients_count = inserted
    campaign.save(
        update_fields=["status", "started_at", "recipients_count", "revisions", "updated_at"]
    )
    campaign_id = campaign.pk
    transaction.on_commit(lambda: campaign_dispatch(campaign_id=campaign_id))
    return campaign


def _campaign_messages(campaign: Campaign | int) -> QuerySet[Message]:
    campaign_id = campaign.pk if isinstance(campaign, Campaign) else campaign
    return Message.objects.filter(dedupe_key__startswith=f"campaign:{campaign_id}:guest:")


def recipients_snapshot(*, campaign: Campaign, now: dt.datetime) -> int:
    """One ``INSERT ... SELECT`` of the campaign's messages from the segment's queryset (the
    recipients at this moment); ``ON CONFLICT DO NOTHING`` makes a repeat insert nothing.
    Returns how many rows this call inserted."""
    partner = campaign.sender_partner
    guests = segment_queryset(campaign.segment.rules, partner=partner, now=now)
    languages = list(campaign.revisions)
    default = recipient_language(settings.LANGUAGE_CODE)
    language = Case(
        *[When(language=code, then=Value(code)) for code in languages],
        default=Value(default),
        output_field=CharField(),
    )
    template = Case(
        *[
            When(language=code, then=Value(newsletter_email_name(rev)))
            for code, rev in campaign.revisions.items()
        ],
        default=Value(newsletter_email_name(campaign.revisions.get(default) or 0)),
        output_field=CharField(),
    )
    primary = GuestEmail.objects.filter(guest=OuterRef("pk"), is_primary=True).values("email")[:1]
    uuid_sql = (
        "gen_random_uuid()" if connection.vendor == "postgresql" else ("lower(hex(randomblob(16)))")
    )
    rows = (
        guests.order_by()
        .annotate(
            m_source=Value(Message.Source.CAMPAIGN),
            m_kind=Value(Message.Kind.MARKETING),
            m_dedupe=Concat(
                Value(f"campaign:{campaign.pk}:guest:"),
                Cast("pk", CharField()),
                output_field=CharField(),
            ),
            m_address=Coalesce(Subquery(primary), Value("")),
            m_language=language,
            m_template=template,
            m_context=JSONObject(first_name=F("first_name")),
            m_purpose=Value("partner_offers" if partner else "newsletter"),
            m_guest=F("pk"),
        )
        .values_list(*SNAPSHOT_COLUMNS)
    )
    select_sql, params = rows.query.sql_with_params()
    table = Message._meta.db_table
    columns = (
        "uuid, source, kind, dedupe_key, address, language, template, context, guest_id, "
        "purpose, partner_id, status, skip_reason, error, due_at, attempts, subject, "
        "message_id, created_at, updated_at"
    )
    picked = ", ".join(f"s.{name}" for name in SNAPSHOT_COLUMNS)
    partner_sql = str(int(partner.pk)) if partner else "NULL"
    sql = (
        # Identifiers are ours, the partner id is an int, the values are parameters.
        f"INSERT INTO {table} ({columns}) "  # noqa: S608
        f"SELECT {uuid_sql}, {picked}, {partner_sql}, 'queued', '', '', %s, 0, '', '', %s, %s "
        f"FROM ({select_sql}) AS s WHERE true "
        "ON CONFLICT (dedupe_key) DO NOTHING"
    )
    with connection.cursor() as cursor:
        # Due from the real start, whatever clock chose the campaign (the tick's ``now``).
        # Raw SQL: the value goes in as the backend stores it (naive UTC text on SQLite, where
        # an aware datetime would be written with "+00:00" and compare wrongly as text).
        written = connection.ops.adapt_datetimefield_value(timezone.now())
        cursor.execute(sql, [written, written, written, *params])
        return int(cursor.rowcount)


def campaign_dispatch(*, campaign_id: int) -> int:
    """Hand the campaign's due queued messages to workers, in batches of ids. Handing a message
    out twice is harmless: only one claim succeeds."""
    ids = list(
        _campaign_messages(campaign_id)
        .filter(status=Message.Status.QUEUED, due_at__lte=timezone.now())
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for start in range(0, len(ids), SEND_BATCH_SIZE):
        campaign_send_batch_task.apply_async(
            kwargs={
                "campaign_id": campaign_id,
                "message_ids": ids[start : start + SEND_BATCH_SIZE],
            },
            **_queue_kwargs(),
        )
    if not ids:
        campaign_finish_check(campaign_id=campaign_id)
    return len(ids)


def campaign_send_batch(*, campaign_id: int, message_ids: list[int]) -> dict[str, int]:
    """Send one batch unless the campaign is paused (its held rows are not due anyway)."""
    status = Campaign.objects.filter(pk=campaign_id).values_list("status", flat=True).first()
    if status != Campaign.Status.SENDING:
        return {}
    counts = messages_send_fast(message_ids=message_ids)
    campaign_finish_check(campaign_id=campaign_id)
    return counts


def campaign_finish_check(*, campaign_id: int) -> bool:
    """A sending campaign with nothing queued or being sent left is done."""
    if (
        _campaign_messages(campaign_id)
        .filter(status__in=[Message.Status.QUEUED, Message.Status.SENDING])
        .exists()
    ):
        return False
    return bool(
        Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.SENDING).update(
            status=Campaign.Status.DONE, finished_at=timezone.now()
        )
    )


# --- Pause and resume ------------------------------------------------------------------------


@transaction.atomic
def campaign_pause(*, campaign: Campaign, actor: User | None) -> Campaign:
    campaign = _lock(campaign)
    if campaign.status != Campaign.Status.SENDING:
        raise CampaignError(_("Only a campaign being sent can be paused."))
    _campaign_messages(campaign).filter(status=Message.Status.QUEUED).update(due_at=HELD_UNTIL)
    campaign.status = Campaign.Status.PAUSED
    campaign.save(update_fields=["status", "updated_at"])
    return campaign


@transaction.atomic
def campaign_resume(*, campaign: Campaign, actor: User | None) -> Campaign:
    campaign = _lock(campaign)
    if campaign.status != Campaign.Status.PAUSED:
        return campaign  # a second click on "resume": nothing more
    now = timezone.now()
    _campaign_messages(campaign).filter(status=Message.Status.QUEUED, due_at=HELD_UNTIL).update(
        due_at=now
    )
    campaign.status = Campaign.Status.SENDING
    campaign.save(update_fields=["status", "updated_at"])
    campaign_id = campaign.pk
    transaction.on_commit(lambda: campaign_dispatch(campaign_id=campaign_id))
    return campaign


# --- Progress --------------------------------------------------------------------------------


def campaign_progress(campaign: Campaign) -> dict[str, Any]:
    """Counts by status and skip reason in one GROUP BY query; "held" are the queued rows of a
    paused campaign."""
    rows = (
        _campaign_messages(campaign)
        .values("status", "skip_reason")
        .annotate(n=Count("pk"), held=Count("pk", filter=Q(due_at=HELD_UNTIL)))
        .order_by()
    )
    by_status: dict[str, int] = dict.fromkeys(Message.Status.values, 0)
    skipped: dict[str, int] = {}
    held = 0
    for row in rows:
        by_status[row["status"]] += row["n"]
        if row["status"] == Message.Status.SKIPPED:
            skipped[row["skip_reason"]] = skipped.get(row["skip_reason"], 0) + row["n"]
        if row["status"] == Message.Status.QUEUED:
            held += row["held"]
    total = sum(by_status.values())
    done = total - by_status[Message.Status.QUEUED] - by_status[Message.Status.SENDING]
    labels = dict(Message.SkipReason.choices)
    return {
        "total": total,
        "by_status": by_status,
        "held": held,
        "skipped": sorted(
            ({"reason": k, "label": labels.get(k, k), "count": v} for k, v in skipped.items()),
            key=lambda item: -item["count"],
        ),
        "percent_done": round(100 * done / total) if total else 0,
        "percent": {s: (round(100 * n / total, 1) if total else 0.0) for s, n in by_status.items()},
    }
