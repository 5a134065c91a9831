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
