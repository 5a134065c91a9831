"""Journeys: series of emails around a booking, a subscription or a silence.

What drives them:

- The bookings outbox (``newsletters.outbox``, consumer "journeys"): CONFIRMED enrols the
  booker in every active booking journey whose filters (partner kind, offer kind) match;
  CANCELLED, REFUNDED and EXPIRED exit the booking's enrolments (pending steps cancelled) and
  enrol the guest's next matching booking, if any; a date change moves the pending steps
  (bookings has no "dates changed" event kind yet: ``journey_booking_reschedule`` is called
  for one when it appears, and the claim re-checks booking-anchored due times meanwhile).
- A confirmed newsletter subscription enrols in the welcome journeys
  (``journey_subscription_enrol``, called by the signup's confirmation, ``newsletters.signup``).
- The tick enrols guests whose last real contact is older than a journey's
  ``inactive_months`` (reactivation), then claims due steps.

Enrolment rules (``Enrolment``): one per (journey, guest, key) where key is "booking:<id>",
"subscription" or "inactive:<last contact date>", so a replayed event enrols nobody twice. A
booking whose stay overlaps (a day either side) one already enrolled and active in the journey
does not enrol again (lodging and ski lessons of one stay: one series); next season's booking
does. Subscription and reactivation journeys: at most one active enrolment per guest. Due rows (``EnrolmentStep``) are written at enrolment, their times
computed in the destination's time zone (anchor + offset days, at the step's time of day);
steps already past at enrolment (more than ``CATCH_UP`` ago) are skipped, not sent late.

The tick (``journey_steps_process``) claims due rows with ``SELECT ... FOR UPDATE SKIP LOCKED``
(two workers never take the same row; no Celery ETA anywhere), re-checks the enrolment and the
booking, the step's conditions (its segment rules restricted to the guest) and enqueues the
email with ``message_enqueue`` under dedupe_key "journey:<step>:<enrolment>": the pipeline
checks consent (purpose and partner of the step), suppression, the frequency cap and quiet
hours at send time.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import formats, timezone, translation

from bookings.models import Booking, BookingEvent
from destination.errors import DomainError
from destination.models import Destination, Guest, GuestEmail
from newsletters.journey_content import journey_template_name
from newsletters.models import (
    JOURNEY_LANGUAGES,
    Enrolment,
    EnrolmentStep,
    Journey,
    JourneyStep,
    Message,
    SurveyAnswer,
)
from newsletters.segments import REAL_BOOKING_STATUSES, segment_queryset
from newsletters.services import message_enqueue

logger = logging.getLogger(__name__)

# A step due this long before its enrolment still goes out (consumer lag); older: skipped.
CATCH_UP = dt.timedelta(hours=1)
# A pending step this late at claim time (workers were down) is skipped rather than sent.
LATE = dt.timedelta(hours=24)
CLAIM_LIMIT = 200
INACTIVE_LIMIT = 500
INACTIVE_EVERY_SECONDS = 3600
SURVEY_SALT = "newsletters.survey"
EXIT_KINDS = (BookingEvent.Kind.CANCELLED, BookingEvent.Kind.REFUNDED, BookingEvent.Kind.EXPIRED)
# The kind bookings is to add for a change of dates (not in BookingEvent.Kind yet).
DATES_CHANGED = "dates_changed"


def _zone() -> ZoneInfo:
    return ZoneInfo(Destination.load().timezone or settings.TIME_ZONE)


# --- Due times ------------------------------------------------------------------------------


def _anchor_at(step: JourneyStep, *, enrolment: Enrolment) -> dt.datetime:
    booking = enrolment.booking
    if step.anchor == JourneyStep.Anchor.BOOKING_START and booking is not None:
        return booking.session.starts_at
    if step.anchor == JourneyStep.Anchor.BOOKING_END and booking is not None:
        return booking.session.ends_at
    return enrolment.enrolled_at


def journey_step_due_at(
    step: JourneyStep, *, anchor_at: dt.datetime, zone: ZoneInfo
) -> dt.datetime:
    """Anchor + offset days in the destination's calendar, at the step's time of day there (or
    the anchor's wall-clock time): J-7 at 09:00 is 09:00 local, summer or winter."""
    local = anchor_at.astimezone(zone)
    day = local.date() + dt.timedelta(days=step.offset_days)
    at = step.send_time or local.time().replace(tzinfo=None)
    return dt.datetime.combine(day, at, tzinfo=zone).astimezone(dt.UTC)


# --- Enrolment ------------------------------------------------------------------------------


def journey_enrol(
    *,
    journey: Journey,
    guest: Guest,
    key: str,
    at: dt.datetime,
    booking: Booking | None = None,
) -> Enrolment | None:
    """Enrol the guest and write the due rows; None when already enrolled by this key or
    while another enrolment of the journey is active for the guest (idempotent)."""
    mine = Enrolment.objects.filter(journey=journey, guest=guest)
    if mine.filter(key=key).exists():
        return None
    if booking is None and mine.filter(status=Enrolment.Status.ACTIVE, booking=None).exists():
        return None
    if booking is not None and _overlapping(booking, mine).exists():
        return None
    try:
        with transaction.atomic():
            enrolment = Enrolment.objects.create(
                journey=journey, guest=guest, booking=booking, key=key, enrolled_at=at
            )
            zone = _zone()
            rows = []
            for step in journey.steps.order_by("sort_order", "id"):
                due = journey_step_due_at(
                    step, anchor_at=_anchor_at(step, enrolment=enrolment), zone=zone
                )
                row = EnrolmentStep(enrolment=enrolment, step=step, due_at=due)
                if due < at - CATCH_UP:
                    row.status = EnrolmentStep.Status.SKIPPED
                    row.reason = "past at enrolment"
                    row.processed_at = at
                rows.append(row)
            EnrolmentStep.objects.bulk_create(rows)
    except IntegrityError:  # a concurrent enrolment won the unique constraints
        return None
    return enrolment


def _overlapping(booking: Booking, enrolments: QuerySet[Enrolment]) -> QuerySet[Enrolment]:
    """Active enrolments of bookings whose stay overlaps this one's (a day either side): the
    lodging and the ski lessons of one stay are one journey, not two."""
    margin = dt.timedelta(days=1)
    return enrolments.filter(
        status=Enrolment.Status.ACTIVE,
        booking__isnull=False,
        booking__session__starts_at__lte=booking.session.ends_at + margin,
        booking__session__ends_at__gte=booking.session.starts_at - margin,
    )


def _booking_journeys(booking: Booking) -> list[Journey]:
    journeys = Journey.objects.filter(
        is_active=True, trigger=Journey.Trigger.BOOKING_CONFIRMED
    ).filter(
        Q(partner_kind="") | Q(partner_kind=booking.partner.kind),
        Q(offer_kind="") | Q(offer_kind=booking.session.offer.kind),
    )
    return list(journeys.order_by("id"))


def journey_booking_enrol(*, booking: Booking, at: dt.datetime | None = None) -> list[Enrolment]:
    """Enrol a confirmed booking's booker in the matching booking journeys."""
    if booking.status not in REAL_BOOKING_STATUSES or booking.booker_id is None:
        return []
    at = at or booking.confirmed_at or timezone.now()
    enrolled = []
    for journey in _booking_journeys(booking):
        enrolment = journey_enrol(
            journey=journey,
            guest=booking.booker,
            key=f"booking:{booking.pk}",
            at=at,
            booking=booking,
        )
        if enrolment is not None:
            enrolled.append(enrolment)
            _due_now_process(enrolment)
    return enrolled


def _due_now_process(enrolment: Enrolment) -> None:
    """Steps already due at enrolment (a confirmation, a welcome) go out now, in the
    enrolment's transaction, instead of waiting for the tick: their rows are not visible to
    any other worker before this commit, so no claim is needed."""
    now = timezone.now()
    rows = (
        enrolment.steps.filter(status=EnrolmentStep.Status.PENDING, due_at__lte=now)
        .select_related(
            "step__journey",
            "step__partner",
            "step__promoted_offer__partner",
            "enrolment__journey",
            "enrolment__guest",
            "enrolment__booking__session__offer",
            "enrolment__booking__partner",
        )
        .order_by("due_at", "id")
    )
    zone = _zone()
    for row in rows:
        _step_process(row, now=now, zone=zone)


def _enrolment_exit(enrolment: Enrolment, *, reason: str, at: dt.datetime) -> int:
    cancelled = enrolment.steps.filter(status=EnrolmentStep.Status.PENDING).update(
        status=EnrolmentStep.Status.CANCELLED, reason=reason, processed_at=at
    )
    enrolment.status = Enrolment.Status.EXITED
    enrolment.exited_at = at
    enrolment.exit_reason = reason
    enrolment.save(update_fields=["status", "exited_at", "exit_reason"])
    return cancelled


def journey_booking_exit(*, booking: Booking, reason: str, at: dt.datetime | None = None) -> int:
    """The booking is off: its active enrolments exit, pending steps cancelled (sent ones stay
    sent). The guest's next real upcoming booking, if any, takes its place in the journey.
    Returns how many pending steps were cancelled."""
    at = at or timezone.now()
    enrolments = list(
        Enrolment.objects.select_for_update()
        .filter(booking=booking, status=Enrolment.Status.ACTIVE)
        .select_related("journey")
    )
    cancelled = sum(_enrolment_exit(e, reason=reason, at=at) for e in enrolments)
    if enrolments:
        others = (
            Booking.objects.filter(
                booker_id=booking.booker_id,
                status__in=REAL_BOOKING_STATUSES,
                session__starts_at__gt=at,
            )
            .exclude(pk=booking.pk)
            .select_related("partner", "session__offer", "booker")
            .order_by("session__starts_at", "id")
        )
        for other in others:
            journey_booking_enrol(booking=other, at=at)
    return cancelled


def journey_booking_reschedule(*, booking: Booking) -> int:
    """The booking's dates changed: move the pending booking-anchored steps. Returns how many
    rows moved."""
    zone = _zone()
    moved = 0
    rows = (
        EnrolmentStep.objects.select_for_update(of=("self",))
        .filter(
            enrolment__booking=booking,
            enrolment__status=Enrolment.Status.ACTIVE,
            status=EnrolmentStep.Status.PENDING,
        )
        .exclude(step__anchor=JourneyStep.Anchor.TRIGGER)
        .select_related("step", "enrolment__booking__session")
    )
    for row in rows:
        due = journey_step_due_at(
            row.step, anchor_at=_anchor_at(row.step, enrolment=row.enrolment), zone=zone
        )
        if due != row.due_at:
            row.due_at = due
            row.save(update_fields=["due_at"])
            moved += 1
    return moved


def journey_subscription_enrol(*, guest: Guest, at: dt.datetime | None = None) -> list[Enrolment]:
    """A confirmed newsletter subscription: the welcome journeys, once per guest."""
    at = at or timezone.now()
    journeys = Journey.objects.filter(
        is_active=True, trigger=Journey.Trigger.SUBSCRIPTION_CONFIRMED
    ).order_by("id")
    done = [journey_enrol(journey=j, guest=guest, key="subscription", at=at) for j in journeys]
    enrolled = [e for e in done if e is not None]
    for enrolment in enrolled:
        _due_now_process(enrolment)
    return enrolled


def journeys_inactive_enrol(*, now: dt.datetime | None = None, limit: int = INACTIVE_LIMIT) -> int:
    """Enrol guests whose last real contact (``Guest.last_contact_at``: human clicks,
    interactions, bookings; never an open) is older than each reactivation journey's months,
    once per silence: a guest who comes back and falls silent again is enrolled again."""
    now = now or timezone.now()
    count = 0
    for journey in Journey.objects.filter(is_active=True, trigger=Journey.Trigger.NO_CONTACT):
        cutoff = now - dt.timedelta(days=30 * (journey.inactive_months or 1))
        already = Enrolment.objects.filter(journey=journey, guest=OuterRef("pk")).filter(
            Q(status=Enrolment.Status.ACTIVE) | Q(enrolled_at__gt=OuterRef("last_contact_at"))
        )
        emailable = GuestEmail.objects.filter(guest=OuterRef("pk"))
        guests = (
            Guest.objects.filter(status=Guest.Status.ACTIVE, last_contact_at__lt=cutoff)
            .filter(Exists(emailable))
            .exclude(Exists(already))
            .order_by("last_contact_at", "pk")[:limit]
        )
        for guest in guests:
            assert guest.last_contact_at is not None  # filtered on last_contact_at < cutoff
            key = f"inactive:{guest.last_contact_at.date().isoformat()}"
            if journey_enrol(journey=journey, guest=guest, key=key, at=now) is not None:
                count += 1
    return count


# --- Outbox handlers (registered in apps.py) -------------------------------------------------


def on_booking_confirmed(event: BookingEvent) -> None:
    booking = Booking.objects.select_related("partner", "session__offer", "booker").get(
        pk=event.booking_id
    )
    journey_booking_enrol(booking=booking, at=event.created_at)


def on_booking_off(event: BookingEvent) -> None:
    journey_booking_exit(booking=event.booking, reason=f"booking {event.kind}", at=event.created_at)


def on_booking_dates_changed(event: BookingEvent) -> None:
    journey_booking_reschedule(booking=event.booking)


# --- Sending due steps -------------------------------------------------------------------------


def survey_token(*, due_id: int) -> str:
    return signing.Signer(salt=SURVEY_SALT).sign(str(due_id))


def survey_token_read(token: str) -> int | None:
    try:
        return int(signing.Signer(salt=SURVEY_SALT).unsign(token))
    except (signing.BadSignature, ValueError):
        return None


def survey_url(*, due_id: int) -> str:
    path = reverse("newsletters:survey", kwargs={"token": survey_token(due_id=due_id)})
    return settings.NEWSLETTER_SITE_URL.rstrip("/") + path


def _language(guest: Guest, booking: Booking | None) -> str:
    for code in (guest.language, booking.language if booking else ""):
        code = (code or "").lower()[:2]
        if code in JOURNEY_LANGUAGES:
            return code
    return settings.LANGUAGE_CODE[:2]


def _address(guest: Guest) -> str:
    emails = GuestEmail.objects.filter(guest=guest).order_by("-is_primary", "id")
    return emails.values_list("email", flat=True).first() or ""


def _context(row: EnrolmentStep, *, language: str, zone: ZoneInfo) -> dict[str, Any]:
    enrolment, step = row.enrolment, row.step
    guest, booking = enrolment.guest, enrolment.booking
    values: dict[str, Any] = {
        "first_name": guest.first_name,
        "site_url": settings.NEWSLETTER_SITE_URL,
        "journey": enrolment.journey_id,
        "step": step.pk,
    }
    if booking is not None:
        offer = booking.session.offer
        with translation.override(language):
            values.update(
                booking_reference=booking.reference,
                offer_title=(offer.title_fr if language == "fr" else "") or offer.title_en,
                partner_name=booking.partner.name,
                arrival_date=formats.date_format(
                    booking.session.starts_at.astimezone(zone), "DATE_FORMAT"
                ),
                departure_date=formats.date_format(
                    booking.session.ends_at.astimezone(zone), "DATE_FORMAT"
                ),
            )
        values["survey_url"] = survey_url(due_id=row.pk)
    promoted = step.promoted_offer
    values["promoted_offer_title"] = (
        ((promoted.title_fr if language == "fr" else "") or promoted.title_en) if promoted else ""
    )
    # Attribution: which partner and offer this email promotes (campaign reports read these).
    values["promoted_partner"] = promoted.partner_id if promoted else step.partner_id
    values["promoted_offer"] = promoted.pk if promoted else None
    return values


def _skip(row: EnrolmentStep, *, status: str, reason: str, now: dt.datetime) -> str:
    row.status = status
    row.reason = reason[:200]
    row.processed_at = now
    row.save(update_fields=["status", "reason", "processed_at"])
    return status


def _step_process(row: EnrolmentStep, *, now: dt.datetime, zone: ZoneInfo) -> str:
    enrolment, step = row.enrolment, row.step
    booking = enrolment.booking
    if enrolment.status != Enrolment.Status.ACTIVE or not enrolment.journey.is_active:
        return _skip(row, status=EnrolmentStep.Status.CANCELLED, reason="journey off", now=now)
    if booking is not None:
        if booking.status not in REAL_BOOKING_STATUSES:
            _enrolment_exit(enrolment, reason=f"booking {booking.status}", at=now)
            return EnrolmentStep.Status.CANCELLED
        if step.anchor != JourneyStep.Anchor.TRIGGER:
            # The dates may have moved without an event: follow the booking.
            due = journey_step_due_at(
                step, anchor_at=_anchor_at(step, enrolment=enrolment), zone=zone
            )
            if due > now:
                row.due_at = due
                row.save(update_fields=["due_at"])
                return EnrolmentStep.Status.PENDING
    if row.due_at < now - LATE:
        return _skip(row, status=EnrolmentStep.Status.SKIPPED, reason="too late", now=now)
    if step.conditions and not (
        segment_queryset(step.conditions, now=now).filter(pk=enrolment.guest_id).exists()
    ):
        return _skip(row, status=EnrolmentStep.Status.SKIPPED, reason="conditions not met", now=now)
    language = _language(enrolment.guest, booking)
    address = _address(enrolment.guest)
    if not address:
        return _skip(row, status=EnrolmentStep.Status.SKIPPED, reason="no address", now=now)
    try:
        with transaction.atomic():
            message, _created = message_enqueue(
                source=Message.Source.JOURNEY,
                kind=step.kind,
                dedupe_key=f"journey:{step.pk}:{enrolment.pk}",
                address=address,
                language=language,
                template=journey_template_name(step),
                context=_context(row, language=language, zone=zone),
                guest=enrolment.guest,
                purpose=step.purpose,
                partner=step.partner,
            )
    except DomainError as exc:
        return _skip(row, status=EnrolmentStep.Status.SKIPPED, reason=f"error: {exc}", now=now)
    row.status = EnrolmentStep.Status.SENT
    row.message = message
    row.promoted_offer = step.promoted_offer
    row.promoted_partner = step.promoted_offer.partner if step.promoted_offer else step.partner
    row.processed_at = now
    row.save(
        update_fields=["status", "message", "promoted_offer", "promoted_partner", "processed_at"]
    )
    if not enrolment.steps.filter(status=EnrolmentStep.Status.PENDING).exists():
        enrolment.status = Enrolment.Status.COMPLETED
        enrolment.save(update_fields=["status"])
    return EnrolmentStep.Status.SENT


def journey_steps_process(
    *, now: dt.datetime | None = None, limit: int = CLAIM_LIMIT
) -> dict[str, int]:
    """Claim due rows (SKIP LOCKED: concurrent ticks share the work, never a row) and handle
    each; the messages go out after commit through the pipeline. Counts per outcome."""
    now = now or timezone.now()
    zone = _zone()
    counts: dict[str, int] = {}
    with transaction.atomic():
        rows = list(
            EnrolmentStep.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=EnrolmentStep.Status.PENDING, due_at__lte=now)
            .select_related(
                "step__journey",
                "step__partner",
                "step__promoted_offer__partner",
                "enrolment__journey",
                "enrolment__guest",
                "enrolment__booking__session__offer",
                "enrolment__booking__partner",
            )
            .order_by("due_at", "id")[:limit]
        )
        for row in rows:
            outcome = _step_process(row, now=now, zone=zone)
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def journeys_tick(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The beat tick: due steps; and, at most once an hour (a scan of silent guests, counted
    in months: every minute would be waste), reactivation enrolments."""
    now = now or timezone.now()
    counts = journey_steps_process(now=now)
    if cache.add("newsletters:journeys:inactive", now.isoformat(), INACTIVE_EVERY_SECONDS):
        counts["inactive_enrolled"] = journeys_inactive_enrol(now=now)
    return counts


# --- GDPR (registered in apps.py) -----------------------------------------------------------


def enrolments_merge(ctx: Any, model: type, fk_name: str) -> None:
    """Merge: the merged guest's enrolments move to the survivor. One that would enrol the
    survivor twice (same journey and key, or a second active welcome/reactivation) moves as an
    exited duplicate (key suffixed, pending steps cancelled: recorded for the undo), so its
    history and survey answers stay."""
    survivor = Enrolment.objects.filter(guest_id=ctx.survivor.pk)
    keys = set(survivor.values_list("journey_id", "key"))
    active = set(
        survivor.filter(status=Enrolment.Status.ACTIVE, booking=None).values_list(
            "journey_id", flat=True
        )
    )
    moving = []
    for e in Enrolment.objects.filter(guest_id=ctx.merged.pk).order_by("pk"):
        twice = (e.journey_id, e.key) in keys or (
            e.status == Enrolment.Status.ACTIVE and e.booking_id is None and e.journey_id in active
        )
        if twice:
            for row in e.steps.filter(status=EnrolmentStep.Status.PENDING):
                ctx.change(
                    row, side="merged", status=EnrolmentStep.Status.CANCELLED, reason="merged"
                )
            ctx.change(
                e,
                side="merged",
                key=f"{e.key}:merged:{e.pk}"[:64],
                status=Enrolment.Status.EXITED if e.status == Enrolment.Status.ACTIVE else e.status,
                exit_reason=e.exit_reason or "merged",
            )
        moving.append(e.pk)
    ctx.move(model, fk_name, moving)


def enrolments_erase(guest_ids: list[int]) -> dict[str, int]:
    """Erasure: no journey email is sent any more; survey comments go, scores stay."""
    now = timezone.now()
    cancelled = EnrolmentStep.objects.filter(
        enrolment__guest_id__in=guest_ids, status=EnrolmentStep.Status.PENDING
    ).update(status=EnrolmentStep.Status.CANCELLED, reason="guest erased", processed_at=now)
    Enrolment.objects.filter(guest_id__in=guest_ids, status=Enrolment.Status.ACTIVE).update(
        status=Enrolment.Status.EXITED, exited_at=now, exit_reason="guest erased"
    )
    comments = SurveyAnswer.objects.filter(guest_id__in=guest_ids).update(comment="")
    return {"journey_steps_cancelled": cancelled, "survey_comments_erased": comments}


def journeys_export(guest: Guest) -> list[dict[str, Any]]:
    """The journeys section of a guest's full export: enrolments, steps and survey answers."""
    answers = {a.due_id: a for a in SurveyAnswer.objects.filter(guest=guest)}
    out = []
    for enrolment in (
        Enrolment.objects.filter(guest=guest)
        .select_related("journey")
        .prefetch_related("steps__step")
        .order_by("id")
    ):
        out.append(
            {
                "journey": enrolment.journey.name,
                "status": enrolment.status,
                "enrolled_at": enrolment.enrolled_at.isoformat(),
                "steps": [
                    {
                        "step": row.step.name,
                        "due_at": row.due_at.isoformat(),
                        "status": row.status,
                        **(
                            {
                                "survey": {
                                    "score": answers[row.pk].score,
                                    "comment": answers[row.pk].comment,
                                }
                            }
                            if row.pk in answers
                            else {}
                        ),
                    }
                    for row in enrolment.steps.all()
                ],
            }
        )
    return out
