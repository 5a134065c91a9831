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
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from destination.models import Guest, Purpose
from newsletters.journey_content import placeholders_of
from newsletters.segments import segment_rules_validate

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# The marketing purposes an email can be sent under; the other purposes are not about mail.
MARKETING_PURPOSES = (Purpose.NEWSLETTER, Purpose.PARTNER_OFFERS)
# The order of what is read as a log (messages, suppressions, answers): newest first, ties by id.
NEWEST_FIRST = ["-created_at", "-id"]


def status_requires(field: str, *, status: str, name: str) -> models.CheckConstraint:
    """A row in ``status`` has ``field`` set: a sent message its send time, a scheduled
    campaign the time it goes out."""
    return models.CheckConstraint(
        condition=~Q(status=status) | Q(**{f"{field}__isnull": False}), name=name
    )


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
        ordering = NEWEST_FIRST
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
            status_requires("sent_at", status="sent", name="newsletters_message_sent_at"),
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
        ordering = NEWEST_FIRST
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


class OutboxCursor(models.Model):
    """How far one consumer of the bookings outbox (``BookingEvent``) has read.

    The row is locked (``select_for_update``) while its consumer handles a batch and moved in
    the same transaction as the handlers' writes: a crash replays the batch, a second worker
    waits for the first and reads after it. See ``newsletters.outbox``."""

    consumer = models.CharField(_("consumer"), max_length=64, unique=True)
    last_event_id = models.BigIntegerField(_("last event processed"), default=0)
    # The event a handler failed on (the consumer stops there and retries it each tick).
    failing_event_id = models.BigIntegerField(_("failing event"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("outbox cursor")
        verbose_name_plural = _("outbox cursors")

    def __str__(self) -> str:
        return f"{self.consumer} @ {self.last_event_id}"


# --- Journeys (newsletters.journeys) --------------------------------------------------------
# Imported here rather than at the top so that the pipeline's models above stay untouched.
from modelcluster.fields import ParentalKey  # noqa: E402
from modelcluster.models import ClusterableModel  # noqa: E402
from wagtail.models import Orderable  # noqa: E402

from bookings.models import Booking, Offer  # noqa: E402
from partners.models import Partner  # noqa: E402

JOURNEY_LANGUAGES = ("fr", "en")
# The ``[[ name ]]`` values a journey email may use; booking ones only in booking journeys.
JOURNEY_PLACEHOLDERS = frozenset({"first_name", "site_url"})
JOURNEY_BOOKING_PLACEHOLDERS = frozenset(
    {
        "booking_reference",
        "offer_title",
        "partner_name",
        "arrival_date",
        "departure_date",
        "survey_url",
        "promoted_offer_title",
    }
)


class Journey(ClusterableModel):
    """A series of emails started by a trigger, edited by the marketing team (a Wagtail
    snippet with its steps inline).

    Triggers: a confirmed booking (optionally only for a partner kind and/or an offer kind), a
    confirmed newsletter subscription, or no real contact for ``inactive_months``. Due rows are
    written at enrolment: steps added later apply to later enrolments; a deleted step's pending
    rows go with it."""

    class Trigger(models.TextChoices):
        BOOKING_CONFIRMED = "booking_confirmed", _("Booking confirmed")
        SUBSCRIPTION_CONFIRMED = "subscription_confirmed", _("Newsletter subscription confirmed")
        NO_CONTACT = "no_contact", _("No real contact for some months")

    name = models.CharField(_("name"), max_length=150)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    trigger = models.CharField(_("trigger"), max_length=32, choices=Trigger.choices)
    partner_kind = models.CharField(
        _("only bookings with a partner of kind"),
        max_length=32,
        blank=True,
        choices=Partner.Kind.choices,
    )
    offer_kind = models.CharField(
        _("only bookings of an offer of kind"),
        max_length=16,
        blank=True,
        choices=Offer.Kind.choices,
    )
    inactive_months = models.PositiveSmallIntegerField(
        _("months without real contact"),
        null=True,
        blank=True,
        help_text=_("For the “no real contact” trigger: how long a guest has been silent."),
    )
    is_active = models.BooleanField(_("active"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("journey")
        verbose_name_plural = _("journeys")
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(trigger="no_contact") | Q(inactive_months__gte=1),
                name="newsletters_journey_inactive_months",
            ),
            models.CheckConstraint(
                condition=Q(trigger="booking_confirmed") | Q(partner_kind="", offer_kind=""),
                name="newsletters_journey_booking_filters",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.trigger == self.Trigger.NO_CONTACT and not self.inactive_months:
            raise ValidationError(
                {"inactive_months": _("Say after how many months without contact.")}
            )
        if self.trigger != self.Trigger.BOOKING_CONFIRMED and (
            self.partner_kind or self.offer_kind
        ):
            raise ValidationError(
                {"partner_kind": _("Partner and offer kinds only filter booking journeys.")}
            )


class JourneyStep(Orderable):
    """One email of a journey: when (an anchor plus an offset in days, at a time of day in the
    destination's time zone), to whom (conditions: a segment rule tree, restricted to the
    enrolled guest at send time), what (subject and MJML body per language) and under which
    consent (transactional, or marketing with its purpose and partner, checked at send time)."""

    class Anchor(models.TextChoices):
        TRIGGER = "trigger", _("The trigger (booking confirmed, subscription, inactivity)")
        BOOKING_START = "booking_start", _("The start of the booked stay or session")
        BOOKING_END = "booking_end", _("The end of the booked stay or session")

    journey = ParentalKey(Journey, on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(_("name"), max_length=150)
    anchor = models.CharField(
        _("anchor"), max_length=16, choices=Anchor.choices, default=Anchor.TRIGGER
    )
    offset_days = models.IntegerField(
        _("offset in days"), default=0, help_text=_("-7: a week before the anchor.")
    )
    send_time = models.TimeField(
        _("time of day"),
        null=True,
        blank=True,
        help_text=_("In the destination's time zone; empty: the anchor's time."),
    )
    conditions = models.JSONField(
        _("conditions"),
        default=dict,
        blank=True,
        help_text=_("A segment rule tree the guest must match at send time; empty: everyone."),
    )
    kind = models.CharField(
        _("kind"), max_length=16, choices=Message.Kind.choices, default=Message.Kind.TRANSACTIONAL
    )
    purpose = models.CharField(
        _("consent purpose"),
        max_length=32,
        blank=True,
        choices=[(p.value, p.label) for p in MARKETING_PURPOSES],
    )
    partner = models.ForeignKey(
        Partner,
        verbose_name=_("consent of partner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Whose offers the guest must have accepted (partner offers)."),
    )
    promoted_offer = models.ForeignKey(
        Offer,
        verbose_name=_("promoted offer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The offer this email upsells: bookings of it are credited to its partner."),
    )
    subject_fr = models.CharField(_("subject (French)"), max_length=200)
    subject_en = models.CharField(_("subject (English)"), max_length=200)
    body_fr = models.TextField(_("MJML body (French)"))
    body_en = models.TextField(_("MJML body (English)"))

    class Meta(Orderable.Meta):
        verbose_name = _("journey step")
        verbose_name_plural = _("journey steps")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="marketing", purpose="newsletter", partner__isnull=True)
                    | Q(kind="marketing", purpose="partner_offers", partner__isnull=False)
                    | Q(kind="transactional", purpose="", partner__isnull=True)
                ),
                name="newsletters_journeystep_consent_scope",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.journey} · {self.name}"

    def clean(self) -> None:
        errors: dict[str, list[StrOrPromise]] = {}
        if self.kind == Message.Kind.MARKETING and not self.purpose:
            errors.setdefault("purpose", []).append(_("A marketing email needs its purpose."))
        if self.kind == Message.Kind.TRANSACTIONAL and (self.purpose or self.partner_id):
            errors.setdefault("purpose", []).append(
                _("A transactional email has no consent purpose nor partner.")
            )
        if self.purpose == "partner_offers" and not self.partner_id:
            errors.setdefault("partner", []).append(_("Whose offers? Choose the partner."))
        if self.purpose == "newsletter" and self.partner_id:
            errors.setdefault("partner", []).append(
                _("The destination's newsletter consent has no partner.")
            )
        if self.conditions:
            problems = segment_rules_validate(self.conditions)
            if problems:
                errors.setdefault("conditions", []).extend(
                    f"{path}: {message}" if path else message for path, message in problems
                )
        journey = getattr(self, "journey", None)
        booking = journey is not None and journey.trigger == Journey.Trigger.BOOKING_CONFIRMED
        if self.anchor != self.Anchor.TRIGGER and journey is not None and not booking:
            errors.setdefault("anchor", []).append(
                _("Only booking journeys have booking dates to anchor on.")
            )
        allowed = JOURNEY_PLACEHOLDERS | (JOURNEY_BOOKING_PLACEHOLDERS if booking else set())
        for name in ("subject_fr", "subject_en", "body_fr", "body_en"):
            unknown = placeholders_of(getattr(self, name) or "") - allowed
            if unknown:
                errors.setdefault(name, []).append(
                    _("Unknown values: %(names)s. Available: %(allowed)s.")
                    % {"names": ", ".join(sorted(unknown)), "allowed": ", ".join(sorted(allowed))}
                )
        if errors:
            raise ValidationError(errors)


class Enrolment(models.Model):
    """A guest in a journey. ``key`` says what enrolled them: "booking:<id>" (one enrolment per
    booking: a replayed event finds it), "subscription" (the welcome series once per guest) or
    "inactive:<date of last contact>" (reactivation once per silence). Without a booking, at
    most one ACTIVE enrolment per (journey, guest); with one, overlapping stays share one
    enrolment (``newsletters.journeys``)."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        EXITED = "exited", _("Exited")
        COMPLETED = "completed", _("Completed")

    journey = models.ForeignKey(
        Journey, verbose_name=_("journey"), on_delete=models.CASCADE, related_name="enrolments"
    )
    guest = models.ForeignKey(
        "destination.Guest",
        verbose_name=_("guest"),
        on_delete=models.CASCADE,
        related_name="journey_enrolments",
    )
    booking = models.ForeignKey(
        Booking,
        verbose_name=_("booking"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="journey_enrolments",
    )
    key = models.CharField(_("enrolled by"), max_length=64)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    enrolled_at = models.DateTimeField(_("enrolled at"))
    exited_at = models.DateTimeField(_("exited at"), null=True, blank=True)
    exit_reason = models.CharField(_("exit reason"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("journey enrolment")
        verbose_name_plural = _("journey enrolments")
        ordering = ["-enrolled_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "guest", "key"], name="newsletters_enrolment_once"
            ),
            models.UniqueConstraint(
                fields=["journey", "guest"],
                condition=Q(status="active", booking__isnull=True),
                name="newsletters_enrolment_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.journey} · {self.guest_id} ({self.key})"


class EnrolmentStep(models.Model):
    """One step's due row for one enrolment: claimed by the beat tick with SKIP LOCKED when
    due, then SENT (a message was enqueued through the pipeline, which still checks consent,
    suppression, the cap and quiet hours), SKIPPED (conditions not met, too late...) or
    CANCELLED (the enrolment exited). The promoted partner and offer are recorded at send time
    for attribution."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent to the pipeline")
        SKIPPED = "skipped", _("Skipped")
        CANCELLED = "cancelled", _("Cancelled")

    enrolment = models.ForeignKey(
        Enrolment, verbose_name=_("enrolment"), on_delete=models.CASCADE, related_name="steps"
    )
    step = models.ForeignKey(
        JourneyStep, verbose_name=_("step"), on_delete=models.CASCADE, related_name="due_rows"
    )
    due_at = models.DateTimeField(_("due at"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    message = models.ForeignKey(
        Message,
        verbose_name=_("message"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    promoted_partner = models.ForeignKey(
        Partner,
        verbose_name=_("promoted partner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    promoted_offer = models.ForeignKey(
        Offer,
        verbose_name=_("promoted offer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("journey due step")
        verbose_name_plural = _("journey due steps")
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["enrolment", "step"], name="newsletters_due_once"),
        ]
        indexes = [
            models.Index(
                fields=["due_at", "id"],
                condition=Q(status="pending"),
                name="newsletters_due_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.step} → {self.enrolment.guest_id} @ {self.due_at:%Y-%m-%d %H:%M}"


class SurveyAnswer(models.Model):
    """A post-stay survey answer: a score from 0 to 10 and a comment, once per due row (the
    signed link in the J+2 email names it); the partner is the booked offer's."""

    due = models.OneToOneField(
        EnrolmentStep, verbose_name=_("email"), on_delete=models.CASCADE, related_name="answer"
    )
    guest = models.ForeignKey(
        "destination.Guest",
        verbose_name=_("guest"),
        on_delete=models.CASCADE,
        related_name="survey_answers",
    )
    booking = models.ForeignKey(
        Booking,
        verbose_name=_("booking"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="survey_answers",
    )
    partner = models.ForeignKey(
        Partner,
        verbose_name=_("partner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="survey_answers",
    )
    score = models.PositiveSmallIntegerField(_("score (0-10)"))
    comment = models.TextField(_("comment"), blank=True, max_length=2000)
    language = models.CharField(_("language"), max_length=8)
    created_at = models.DateTimeField(_("answered at"), auto_now_add=True)

    class Meta:
        verbose_name = _("survey answer")
        verbose_name_plural = _("survey answers")
        ordering = NEWEST_FIRST
        constraints = [
            models.CheckConstraint(condition=Q(score__lte=10), name="newsletters_survey_score"),
        ]

    def __str__(self) -> str:
        return f"{self.score}/10 · {self.guest_id}"


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
            status_requires(
                "scheduled_at", status="scheduled", name="newsletters_campaign_scheduled_at"
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
        if (
            self.segment_id
            and self.segment.partner_id is not None
            and self.segment.partner_id != self.sender_partner_id
        ):
            raise ValidationError({"segment": _("This segment belongs to another sender.")})


# =============================================================================================
# Tracking: the open pixel's and the click redirector's hits (newsletters.tracking_record).
# =============================================================================================


class TrackingHit(models.Model):
    """One request to the pixel or the redirector, kept raw with its verdict (``tracking``).

    Clicks are always kept per message; opens only when the guest granted the profiling purpose
    (otherwise a ``TrackingCount`` is incremented instead). The address is truncated (/24 IPv4,
    /48 IPv6) and the agent trimmed before storage. A click is ``settled`` once the settle pass
    (``tracking_hits_settle``) has reclassified it against the message's later hits and, if it
    is still human, touched the guest's contact; opens are settled when recorded (never
    contact)."""

    class Kind(models.TextChoices):
        OPEN = "open", _("Open")
        CLICK = "click", _("Click")

    class Verdict(models.TextChoices):
        HUMAN = "human", _("Person")
        MACHINE = "machine", _("Machine")

    message = models.ForeignKey(
        Message, verbose_name=_("message"), on_delete=models.CASCADE, related_name="hits"
    )
    # Copied from the message when recorded, so reports group without parsing dedupe keys.
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="hits",
    )
    journey_step = models.ForeignKey(
        JourneyStep,
        verbose_name=_("journey step"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="hits",
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    link_index = models.PositiveSmallIntegerField(_("link"), null=True, blank=True)
    url = models.CharField(_("URL"), max_length=2048, blank=True)
    method = models.CharField(_("method"), max_length=8, default="GET")
    verdict = models.CharField(_("verdict"), max_length=8, choices=Verdict.choices)
    reason = models.CharField(_("reason"), max_length=32)
    at = models.DateTimeField(_("at"))
    ip = models.GenericIPAddressField(_("address (truncated)"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=256, blank=True)
    settled = models.BooleanField(_("settled"), default=False)

    class Meta:
        verbose_name = _("tracking hit")
        verbose_name_plural = _("tracking hits")
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="click") | Q(link_index__isnull=True),
                name="newsletters_hit_link_clicks_only",
            ),
        ]
        indexes = [
            # The classifier's context and the settle pass: a message's hits in time order.
            models.Index(fields=["message", "kind", "at"], name="newsletters_hit_message"),
            # The settle pass: unsettled clicks, oldest first.
            models.Index(
                fields=["at"], condition=Q(settled=False), name="newsletters_hit_unsettled"
            ),
            # Reports per campaign and per journey step.
            models.Index(fields=["campaign", "kind"], name="newsletters_hit_campaign"),
            models.Index(fields=["journey_step", "kind"], name="newsletters_hit_step"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.verdict} ({self.reason}) · {self.message_id}"


class TrackingCount(models.Model):
    """Opens of guests who did not grant profiling: a count per campaign or journey step, kind,
    verdict and reason, with nothing that leads back to a guest or a message. ``scope`` is
    "campaign:<id>", "step:<id>" or "other" (the unique key: nullable foreign keys are no
    portable unique key)."""

    scope = models.CharField(_("scope"), max_length=40)
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="hit_counts",
    )
    journey_step = models.ForeignKey(
        JourneyStep,
        verbose_name=_("journey step"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="hit_counts",
    )
    kind = models.CharField(_("kind"), max_length=8, choices=TrackingHit.Kind.choices)
    verdict = models.CharField(_("verdict"), max_length=8, choices=TrackingHit.Verdict.choices)
    reason = models.CharField(_("reason"), max_length=32)
    count = models.PositiveIntegerField(_("count"), default=0)

    class Meta:
        verbose_name = _("tracking count")
        verbose_name_plural = _("tracking counts")
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "kind", "verdict", "reason"], name="newsletters_count_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.kind} {self.verdict} ({self.reason}): {self.count}"
