"""Partners editing their own catalogue in the portal: offers and their dated sessions.

Who may do what is decided here, not in the views:

- every staff member sees the offers of the partner they act for; the tourist office (steward
  of the destination) and the booking desk (which books for everyone) see every partner's;
- a partner's managers create and edit its offers and sessions; the tourist office's managers
  may edit any partner's; agents read only.

Its reads (the offers a partner sees, the sessions being edited) are in ``bookings.selectors``.
Seat counts stay with the booking services: a capacity is lowered with one conditional UPDATE
that cannot go below the seats already taken, whatever bookings arrive meanwhile, and a session
with bookings is never deleted or moved (its guests booked that date).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from bookings.models import Offer, Session
from bookings.services import BookingError
from partners.models import Membership, Partner

logger = logging.getLogger(__name__)

# A series longer than this is a mistake (a season is about 150 days).
MAX_SERIES_SESSIONS = 400

# Fields of an offer a partner edits; everything else (slug, partner) is set by the service.
OFFER_FIELDS = (
    "kind",
    "title_en",
    "title_fr",
    "description_en",
    "description_fr",
    "price_cents",
    "child_price_cents",
    "pricing",
    "deposit_percent",
    "balance_due_days",
    "free_cancellation_days",
    "needs_participant_names",
    "is_published",
)


def catalogue_can_edit(membership: Membership, offer: Offer | None = None) -> bool:
    """Managers edit their partner's offers (``offer=None``: may create one); the tourist
    office's managers edit every partner's."""
    if membership.role != Membership.Role.MANAGER:
        return False
    if offer is None or membership.partner.is_steward:
        return True
    return offer.partner_id == membership.partner_id


def _slug_for(title: str) -> str:
    base = slugify(title)[:70] or "offer"
    slug, n = base, 1
    while Offer.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def _offer_validate(values: dict[str, Any]) -> None:
    errors: dict[str, str] = {}
    if not values.get("price_cents") or values["price_cents"] <= 0:
        errors["price_cents"] = _("The price must be more than zero.")
    child = values.get("child_price_cents")
    if child is not None:
        if values.get("pricing") != Offer.Pricing.PER_PERSON:
            errors["child_price_cents"] = _("A child price applies to per-person offers only.")
        elif child > (values.get("price_cents") or 0):
            errors["child_price_cents"] = _("The child price cannot be above the adult price.")
    deposit = values.get("deposit_percent")
    if deposit is not None and not 1 <= deposit <= 99:
        errors["deposit_percent"] = _("A deposit is between 1 and 99 %; leave empty for none.")
    if not (values.get("title_en") or "").strip():
        errors["title_en"] = _("An English title is needed: it is the fallback of every page.")
    if errors:
        raise BookingError(errors)


def offer_create(*, membership: Membership, partner: Partner, values: dict[str, Any]) -> Offer:
    """A new offer for ``partner`` (unpublished unless said otherwise)."""
    if not catalogue_can_edit(membership) or (
        partner.pk != membership.partner_id and not membership.partner.is_steward
    ):
        raise BookingError(_("You may not add offers for this partner."))
    _offer_validate(values)
    fields = {name: values[name] for name in OFFER_FIELDS if name in values}
    for attempt in range(3):
        try:
            with transaction.atomic():
                offer = Offer.objects.create(
                    partner=partner, slug=_slug_for(fields["title_en"]), **fields
                )
            break
        except IntegrityError:  # the same slug taken at the same moment: pick the next one
            if attempt == 2:
                raise
    logger.info("Offer %s created by user %s", offer.slug, membership.user_id)
    return offer


def offer_update(*, membership: Membership, offer: Offer, values: dict[str, Any]) -> Offer:
    """Change what a partner may change. The slug stays: links and bookings keep working.
    Prices apply to new bookings only (a booking keeps the total it was made with)."""
    if not catalogue_can_edit(membership, offer):
        raise BookingError(_("You may not edit this offer."))
    _offer_validate(values)
    changed = [
        name for name in OFFER_FIELDS if name in values and getattr(offer, name) != values[name]
    ]
    for name in changed:
        setattr(offer, name, values[name])
    if changed:
        offer.save(update_fields=[*changed, "updated_at"])
        logger.info("Offer %s changed by user %s: %s", offer.slug, membership.user_id, changed)
    return offer


@dataclass(frozen=True)
class SessionSeries:
    """Sessions from ``first_day`` to ``last_day`` on the given weekdays (0 = Monday), each
    starting at ``start_time`` and ending ``nights`` days later at ``end_time`` (0 for a lesson
    the same day), in the destination's time zone."""

    first_day: dt.date
    last_day: dt.date
    weekdays: frozenset[int]
    start_time: dt.time
    end_time: dt.time
    nights: int
    capacity: int

    def starts(self) -> list[tuple[dt.datetime, dt.datetime]]:
        tz = timezone.get_current_timezone()
        out = []
        day = self.first_day
        while day <= self.last_day:
            if day.weekday() in self.weekdays:
                start = dt.datetime.combine(day, self.start_time, tzinfo=tz)
                end_day = day + dt.timedelta(days=self.nights)
                out.append((start, dt.datetime.combine(end_day, self.end_time, tzinfo=tz)))
            day += dt.timedelta(days=1)
        return out


@dataclass(frozen=True)
class SeriesResult:
    created: int
    skipped: int  # a session already starting at that time


def session_series_add(
    *, membership: Membership, offer: Offer, series: SessionSeries, now: dt.datetime | None = None
) -> SeriesResult:
    """Add the series' sessions to ``offer`` in one INSERT. Times where the offer already has a
    session are skipped, so sending the same series twice adds nothing."""
    if not catalogue_can_edit(membership, offer):
        raise BookingError(_("You may not edit this offer."))
    now = now or timezone.now()
    errors: dict[str, str] = {}
    if series.capacity < 1:
        errors["capacity"] = _("The capacity must be at least 1.")
    if series.last_day < series.first_day:
        errors["last_day"] = _("The last day cannot be before the first day.")
    if not series.weekdays:
        errors["weekdays"] = _("Choose at least one day of the week.")
    if series.nights < 0:
        errors["nights"] = _("The number of nights cannot be negative.")
    if errors:
        raise BookingError(errors)
    times = series.starts()
    if not times:
        raise BookingError({"weekdays": _("None of these days falls between the two dates.")})
    if len(times) > MAX_SERIES_SESSIONS:
        raise BookingError(
            {
                "last_day": _("At most %(max)d sessions at once; this would make %(n)d.")
                % {"max": MAX_SERIES_SESSIONS, "n": len(times)}
            }
        )
    if times[0][0] <= now:
        raise BookingError({"first_day": _("Sessions must start in the future.")})
    if times[0][1] <= times[0][0]:
        raise BookingError(
            {"end_time": _("A session must end after it starts (add a night for a stay).")}
        )
    with transaction.atomic():
        # Lock the offer so two managers adding the same series at once cannot both pass the
        # check below; sessions of other offers are not blocked.
        Offer.objects.select_for_update().filter(pk=offer.pk).first()
        existing = set(
            Session.objects.filter(
                offer=offer, starts_at__range=(times[0][0], times[-1][0])
            ).values_list("starts_at", flat=True)
        )
        new = [
            Session(offer=offer, starts_at=start, ends_at=end, capacity=series.capacity)
            for start, end in times
            if start not in existing
        ]
        Session.objects.bulk_create(new)
    logger.info(
        "%d sessions added to offer %s by user %s", len(new), offer.slug, membership.user_id
    )
    return SeriesResult(created=len(new), skipped=len(times) - len(new))


def session_capacity_set(*, membership: Membership, session: Session, capacity: int) -> Session:
    """Set a session's capacity. Lowering it below the seats taken is refused, checked in the
    UPDATE itself so a booking landing at the same moment cannot slip under it."""
    if not catalogue_can_edit(membership, session.offer):
        raise BookingError(_("You may not edit this offer."))
    if capacity < 1:
        raise BookingError({"capacity": _("The capacity must be at least 1.")})
    updated = Session.objects.filter(pk=session.pk, seats_taken__lte=capacity).update(
        capacity=capacity
    )
    session.refresh_from_db(fields=["capacity", "seats_taken"])
    if not updated:
        raise BookingError(
            {
                "capacity": ngettext(
                    "%(taken)d place is already booked: the capacity cannot be lower.",
                    "%(taken)d places are already booked: the capacity cannot be lower.",
                    session.seats_taken,
                )
                % {"taken": session.seats_taken}
            }
        )
    logger.info(
        "Session %s capacity set to %d by user %s", session.pk, capacity, membership.user_id
    )
    return session


def session_delete(*, membership: Membership, session: Session) -> None:
    """Delete a session nobody booked. One with bookings (even cancelled ones, which are the
    history of what was sold) stays: lower its capacity to stop sales instead."""
    if not catalogue_can_edit(membership, session.offer):
        raise BookingError(_("You may not edit this offer."))
    try:
        with transaction.atomic():
            deleted, _detail = (
                Session.objects.filter(pk=session.pk).exclude(bookings__isnull=False).delete()
            )
    except IntegrityError:  # a booking landed between the check and the delete
        deleted = 0
    if not deleted:
        raise BookingError(
            _("This session has bookings: it cannot be deleted. Lower its capacity instead.")
        )
    logger.info(
        "Session %s of offer %s deleted by user %s",
        session.pk,
        session.offer_id,
        membership.user_id,
    )
