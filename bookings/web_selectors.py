"""Reads of the booking pages (public site and booking desk) that the core selectors do not
cover. Each returns a queryset with everything its page shows joined or prefetched, so a page
costs the same number of queries whatever the number of rows."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db.models import F, Min, Prefetch, Q, QuerySet
from django.utils import timezone

from bookings import selectors
from bookings.models import Booking, Offer, Session

if TYPE_CHECKING:
    from destination.models import User
    from partners.models import Partner


def offer_list_public(*, kind: str = "") -> QuerySet[Offer]:
    """Published offers with their partner and their next bookable start, soonest first."""
    now = timezone.now()
    offers = selectors.offers_published().select_related("partner")
    if kind:
        offers = offers.filter(kind=kind)
    return offers.annotate(
        next_start=Min("sessions__starts_at", filter=Q(sessions__starts_at__gt=now)),
    ).order_by("next_start", "pk")


def offer_get_public(*, slug: str) -> Offer | None:
    return selectors.offers_published().select_related("partner").filter(slug=slug).first()


def booking_list_for_user(user: User) -> QuerySet[Booking]:
    """Bookings whose booker has one of the user's VERIFIED email addresses: an unverified
    address proves nothing, and anyone could sign up with somebody else's."""
    from allauth.account.models import EmailAddress

    emails = [
        e.lower()
        for e in EmailAddress.objects.filter(user=user, verified=True).values_list(
            "email", flat=True
        )
    ]
    if not emails:
        return Booking.objects.none()
    return (
        Booking.objects.filter(booker__emails__email_normalized__in=emails)
        .select_related("session__offer__partner")
        .distinct()
        .order_by("-session__starts_at", "-pk")
    )


def booking_list_for_desk(
    *,
    partner: Partner,
    on: dt.date | None = None,
    status: str = "",
    overdue: bool = False,
    query: str = "",
    period: str = "all",
) -> QuerySet[Booking]:
    """The desk's list: what ``bookings_for_partner`` lets the acting partner see (its own
    bookings; every booking for the tourist office and the booking desk), filtered.
    ``overdue``: what the desk must follow up: a confirmed booking whose balance is still owed
    past its due date (flagged by the nightly task, or not flagged yet), or a card refund that
    failed. ``period``: "upcoming" (not ended yet, soonest
    first), "past" (ended, latest first) or "all"."""
    bookings = selectors.bookings_for_partner(partner)
    order = ("session__starts_at", "pk")
    if period == "upcoming":
        bookings = bookings.filter(session__ends_at__gte=timezone.now())
    elif period == "past":
        bookings = bookings.filter(session__ends_at__lt=timezone.now())
        order = ("-session__starts_at", "-pk")
    if on is not None:
        bookings = bookings.filter(session__starts_at__date=on)
    if status:
        bookings = bookings.filter(status=status)
    if overdue:
        balance_owed = Q(status=Booking.Status.CONFIRMED) & (
            Q(balance_overdue_at__isnull=False)
            | Q(balance_due_on__lt=timezone.localdate(), paid_cents__lt=F("total_cents"))
        )
        bookings = bookings.filter(balance_owed | Q(refund_failed_at__isnull=False))
    query = query.strip()
    if query:
        bookings = bookings.filter(
            Q(reference__iexact=query)
            | Q(booker__name_folded__icontains=query.lower())
            | Q(contact_email__iexact=query)
        )
    return bookings.select_related("session__offer__partner", "booker").order_by(*order)


def sessions_upcoming(offer: Offer) -> QuerySet[Session]:
    return selectors.sessions_bookable(offer).order_by("starts_at", "pk")


def booking_with_details(booking: Booking) -> Booking:
    """The booking again with what the confirmation page shows, in two queries."""
    return (
        Booking.objects.select_related("session__offer__partner", "booker")
        .prefetch_related(Prefetch("participants"))
        .get(pk=booking.pk)
    )
