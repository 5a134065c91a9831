"""Reads of the bookings app."""

from __future__ import annotations

import datetime as dt

from django.db.models import F, Max, Q, QuerySet
from django.utils import timezone

from bookings import payments
from bookings.models import Booking, BookingEvent, Offer, Payment, Session
from destination.models import Guest
from partners.models import Partner


def offers_published(language: str | None = None) -> QuerySet[Offer]:
    """Published offers of active partners, with their partner. ``language`` is accepted for
    symmetry with the pages; titles fall back to English in every language."""
    return (
        Offer.objects.filter(is_published=True, partner__is_active=True)
        .select_related("partner")
        .order_by("kind", "partner__name", "title_en")
    )


def sessions_bookable(offer: Offer) -> QuerySet[Session]:
    """Future sessions of an offer with seats left, soonest first."""
    return Session.objects.filter(
        offer=offer, starts_at__gt=timezone.now(), seats_taken__lt=F("capacity")
    ).order_by("starts_at", "pk")


def bookings_for_guest(guest: Guest) -> QuerySet[Booking]:
    """Bookings the guest made or takes part in, newest first."""
    return (
        Booking.objects.filter(Q(booker=guest) | Q(participants__guest=guest))
        .distinct()
        .select_related("session__offer__partner", "partner", "booker")
        .order_by("-created_at", "-id")
    )


def bookings_for_partner(partner: Partner) -> QuerySet[Booking]:
    """A partner's bookings, newest first. The booking desk and the tourist office see all."""
    qs = Booking.objects.select_related("session__offer", "partner", "booker")
    if not partner.books_for_all:
        qs = qs.filter(partner=partner)
    return qs.order_by("-created_at", "-id")


def bookings_balance_overdue(partner: Partner | None = None) -> QuerySet[Booking]:
    """Bookings whose balance was not paid by its date: the booking desk's follow-up list."""
    qs = Booking.objects.filter(
        balance_overdue_at__isnull=False, status=Booking.Status.CONFIRMED
    ).select_related("session__offer", "partner", "booker")
    if partner is not None and not partner.books_for_all:
        qs = qs.filter(partner=partner)
    return qs.order_by("balance_due_on", "pk")


def booking_paid_by_provider(booking: Booking) -> dict[str, int]:
    """What the booking received, in cents, per provider ("stripe": by card online, refunded
    through Stripe; "on_site": taken at the desk, given back there). Reads ``payments``, so a
    prefetch serves it."""
    paid = {payments.STRIPE: 0, payments.ON_SITE: 0}
    for payment in booking.payments.all():
        if payment.kind != Payment.Kind.REFUND and payment.status == Payment.Status.SUCCEEDED:
            paid[payment.provider] = paid.get(payment.provider, 0) + payment.amount_cents
    return paid


def booking_events_after(last_id: int, limit: int = 100) -> list[BookingEvent]:
    """The outbox: events with an id greater than ``last_id``, oldest first."""
    return list(BookingEvent.objects.filter(id__gt=last_id).order_by("id")[:limit])


def stay_last_by_guest(
    *, partner: Partner, guest_ids: list[int], opened_guest_ids: list[int]
) -> dict[int, dt.datetime]:
    """When each guest's latest stay began, among the bookings ``partner`` may see: one grouped
    query for a whole page of guests (the portal's search results).

    A stay is a confirmed, checked-in or completed booking (``Booking.SEATED`` without HELD:
    never a cancelled, refunded, expired or unpaid hold) whose session has started; an
    upcoming stay is not a "last stay" yet. Visible bookings: the partner's own, every booking
    for the booking desk and the tourist office (``bookings_for_partner``), and other partners'
    bookings of the guests in ``opened_guest_ids`` (those whose BOOKINGS section the caller's
    access check opened to this partner)."""
    visible = bookings_for_partner(partner).filter(booker_id__in=guest_ids)
    if opened_guest_ids:
        visible |= Booking.objects.filter(booker_id__in=opened_guest_ids)
    stayed = [status for status in Booking.SEATED if status != Booking.Status.HELD]
    rows = (
        visible.filter(status__in=stayed, session__starts_at__lte=timezone.now())
        .values("booker_id")
        .annotate(last=Max("session__starts_at"))
        .order_by()
    )
    return {row["booker_id"]: row["last"] for row in rows}
