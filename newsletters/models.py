"""Every email the destination sends to a guest is one ``Message`` row.

The row is written first (``message_enqueue``), then claimed and sent by a Celery task after
commit. ``dedupe_key`` says what the email *is* ("booking:VN-7Q2:confirmation",
"campaign:12:guest:34"): one email is one row, so a retry, a second worker or a double click
finds the row already there and never sends twice.

Status machine (see ``newsletters.services``)::

    QUEUED --claim--> SENDING --> SENT
       ^                 |  \\--> FAILED      (permanent error, or transient errors exhausted)
       |                 |   \\--> SKIPPED    (suppressed, no consent, frequency cap...)
       +--transient------+
                         \\--timeout--> IN_DOUBT  (worker died between claim and answer:
                                                  a person resends or marks it sent)
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from destination.models import Guest, Purpose

# The marketing purposes an email can be sent under; the other purposes are not about mail.
MARKETING_PURPOSES = (Purpose.NEWSLETTER, Purpose.PARTNER_OFFERS)


class Message(models.Model):
    class Source(models.TextChoices):
        BOOKING = "booking", _("Booking")
        CAMPAIGN = "campaign", _("Campaign")
        JOURNEY = "journey", _("Journey")
        SIGNUP = "signup", _("Signup")
        TEST = "test", _("Test")

    class Kind(models.TextChoices):
        TRANSACTIONAL = "transactional", _("Transactional")
        MARKETING = "marketing", _("Marketing")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")
        IN_DOUBT = "in_doubt", _("In doubt")

    class SkipReason(models.TextChoices):
        NONE = "", _("Not skipped")
        SUPPRESSED = "suppressed", _("Address suppressed (bounce, complaint or manual)")
        UNDELIVERABLE = "undeliverable", _("No deliverable address")
        GUEST_INACTIVE = "guest_inactive", _("Guest erased or merged")
        NO_CONSENT = "no_consent", _("No marketing consent at send time")
        FREQUENCY_CAP = "frequency_cap", _("Frequency cap reached")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    dedupe_key = models.CharField(
        _("deduplication key"),
        max_length=200,
        help_text=_("What this email is, e.g. “campaign:12:guest:34”: one email, one row."),
    )
    guest = models.ForeignKey(
        Guest,
        verbose_name=_("guest"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
    )
    address = models.EmailField(_("address"), max_length=254)
    language = models.CharField(_("language"), max_length=8)
    template = models.CharField(_("template"), max_length=100)
    context = models.JSONField(_("context"), default=dict, blank=True)
    # The consent scope a marketing email needs at send time (channel: email).
    purpose = models.CharField(
        _("purpose"), max_length=32, choices=Purpose.choices, blank=True, default=""
    )
    partner = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("partner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.QUEUED
    )
    skip_reason = models.CharField(
        _("skip reason"), max_length=32, choices=SkipReason.choices, blank=True, default=""
    )
    error = models.TextField(_("last error"), blank=True)
    # When the message may go out: now, later (quiet hours), or after a transient failure.
    due_at = models.DateTimeField(_("due at"), default=timezone.now)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = pgettext_lazy("email", "message")
        verbose_name_plural = pgettext_lazy("email", "messages")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["dedupe_key"], name="newsletters_message_dedupe"),
            models.CheckConstraint(
                condition=Q(dedupe_key__gt=""), name="newsletters_message_dedupe_set"
            ),
            # Marketing needs a consent scope and a guest to hold it; transactional has neither.
            models.CheckConstraint(
                condition=(
                    Q(
                        kind="marketing",
                        guest__isnull=False,
                        purpose="newsletter",
                        partner__isnull=True,
                    )
                    | Q(
                        kind="marketing",
                        guest__isnull=False,
                        purpose="partner_offers",
                        partner__isnull=False,
                    )
                    | Q(kind="transactional", purpose="")
                ),
                name="newsletters_message_consent_scope",
            ),
            models.CheckConstraint(
                condition=(Q(status="skipped") & ~Q(skip_reason=""))
                | (~Q(status="skipped") & Q(skip_reason="")),
                name="newsletters_message_skip_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="newsletters_message_sent_at",
            ),
        ]
        indexes = [
            # The claim and the dispatch tick: due queued rows, oldest first.
            models.Index(
                fields=["due_at", "id"],
                condition=Q(status="queued"),
                name="newsletters_msg_due_queued",
            ),
            # The in-doubt sweep: rows claimed long ago and never answered.
            models.Index(
                fields=["claimed_at"],
                condition=Q(status="sending"),
                name="newsletters_msg_sending",
            ),
            # The frequency cap: a guest's recent marketing messages.
            models.Index(
                fields=["guest", "claimed_at"],
                condition=Q(kind="marketing"),
                name="newsletters_msg_marketing",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} → {self.address} ({self.get_status_display()})"


class Suppression(models.Model):
    """An address no email goes to any more (bounce, complaint, manual), whatever its kind.

    Several events may suppress one address; each provider event is recorded once."""

    class Reason(models.TextChoices):
        BOUNCE = "bounce", _("Hard bounce")
        COMPLAINT = "complaint", _("Spam complaint")
        MANUAL = "manual", _("Added by staff")

    # Lower-cased and stripped (as GuestEmail.email_normalized): compared exactly.
    address = models.CharField(_("address"), max_length=254, db_index=True)
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    provider_event_id = models.CharField(_("provider event id"), max_length=200, blank=True)
    detail = models.TextField(_("detail"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("suppressed address")
        verbose_name_plural = _("suppressed addresses")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider_event_id"],
                condition=~Q(provider_event_id=""),
                name="newsletters_suppression_event_once",
            ),
            models.CheckConstraint(
                condition=Q(address__gt=""), name="newsletters_suppression_address_set"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.address} ({self.get_reason_display()})"


# =============================================================================================
# Campaigns: a newsletter page sent to a saved segment by the destination or one partner.
# (newsletters.pages holds the Wagtail page types; newsletters.campaign_services the writes.)
# =============================================================================================

from newsletters.pages import NewsletterIndexPage, NewsletterPage  # noqa: E402, F401


class Segment(models.Model):
    """A saved rule tree (``newsletters.segments``). A partner's segment only ever reaches the
    guests that partner may contact (``segment_queryset(partner=...)``)."""

    name = models.CharField(_("name"), max_length=150)
    rules = models.JSONField(
        _("rules"),
        default=dict,
        help_text=_('A rule tree, e.g. {"all": [{"rule": "language", "in": ["fr"]}]}.'),
    )
    partner = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("partner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty: a segment of the destination."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from newsletters.segments import segment_rules_validate

        errors = segment_rules_validate(self.rules)
        if errors:
            raise ValidationError(
                {"rules": [f"{path or _('rules')}: {message}" for path, message in errors]}
            )


class Campaign(models.Model):
    """A newsletter + a segment + a sender (the destination, or one partner under the shared
    brand). Partner campaigns wait for the tourist office's approval.

    Status machine (``newsletters.campaign_services``)::

        DRAFT --(partner) submit--> PENDING_APPROVAL --approve--> READY
        DRAFT --(destination)-----------------------------------> READY
        READY --schedule--> SCHEDULED --beat tick, due--> SENDING --> DONE
        READY --send now------------------------------------> SENDING <--resume-- PAUSED
                                                              SENDING --pause--> PAUSED
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PENDING_APPROVAL = "pending_approval", _("Waiting for the tourist office")
        READY = "ready", _("Ready to send")
        SCHEDULED = "scheduled", _("Scheduled")
        SENDING = "sending", _("Sending")
        PAUSED = "paused", _("Paused")
        DONE = "done", _("Sent")

    name = models.CharField(_("name"), max_length=150)
    page = models.ForeignKey(
        NewsletterPage,
        verbose_name=_("newsletter"),
        on_delete=models.PROTECT,
        related_name="campaigns",
    )
    segment = models.ForeignKey(
        Segment, verbose_name=_("segment"), on_delete=models.PROTECT, related_name="campaigns"
    )
    sender_partner = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("sent by partner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty: sent by the destination. A partner's campaign needs approval."),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.DRAFT
    )
    scheduled_at = models.DateTimeField(_("send at"), null=True, blank=True)
    approved_by = models.ForeignKey(
        "destination.User",
        verbose_name=_("approved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    recipients_count = models.PositiveIntegerField(_("recipients"), null=True, blank=True)
    # {language: revision id}: the newsletter version each language got, pinned at the start.
    revisions = models.JSONField(_("revisions sent"), default=dict, blank=True)
    created_by = models.ForeignKey(
        "destination.User",
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-pk"]
        constraints = [
            # A partner's campaign never leaves without the tourist office's approval.
            models.CheckConstraint(
                condition=Q(sender_partner__isnull=True)
                | Q(status__in=["draft", "pending_approval"])
                | Q(approved_at__isnull=False),
                name="newsletters_campaign_partner_approved",
            ),
            models.CheckConstraint(
                condition=~Q(status="scheduled") | Q(scheduled_at__isnull=False),
                name="newsletters_campaign_scheduled_at",
            ),
        ]
        indexes = [
            # The beat tick: scheduled campaigns that are due.
            models.Index(
                fields=["scheduled_at"],
                condition=Q(status="scheduled"),
                name="newsletters_campaign_due",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def dedupe_prefix(self) -> str:
        return f"campaign:{self.pk}:guest:"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if (
            self.segment_id
            and self.segment.partner_id is not None
            and self.segment.partner_id != self.sender_partner_id
        ):
            raise ValidationError({"segment": _("This segment belongs to another sender.")})
