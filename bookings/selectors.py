"""Reads of the bookings app, named ``<entity>_<verb>``: the public pages, the booking desk,
the catalogue and the outbox. Each returns a queryset with everything its page shows joined or
prefetched, so a page costs the same number of queries whatever the number of rows."""

from __future__ import annotations

import datetime as dt

from allauth.account.models import EmailAddress
from django.db.models import Count, F, Max, Min, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from bookings import payments
from bookings.models import Booking, BookingEvent, Offer, Payment, Session
from destination.models import Guest, User
from partners.models import Membership, Partner

# --- Offers and sessions -----------------------------------------------------------------------


def offer_list_published(language: str | None = None) -> QuerySet[Offer]:
    """Published offers of active partners, with their partner. ``language`` is accepted for
    symmetry with the pages; titles fall back to English in every language."""
    return (
        Offer.objects.filter(is_published=True, partner__is_active=True)
        .select_related("partner")
        .order_by("kind", "partner__name", "title_en")
    )


def offer_list_public(*, kind: str = "") -> QuerySet[Offer]:
    """Published offers with their partner and their next bookable start, soonest first."""
    now = timezone.now()
    offers = offer_list_published().select_related("partner")
    if kind:
        offers = offers.filter(kind=kind)
    return offers.annotate(
        next_start=Min("sessions__starts_at", filter=Q(sessions__starts_at__gt=now)),
    ).order_by("next_start", "pk")


def offer_get_public(*, slug: str) -> Offer | None:
    return offer_list_published().select_related("partner").filter(slug=slug).first()


def offer_list_visible(partner: Partner) -> QuerySet[Offer]:
    """The offers the acting partner sees: its own, or every partner's for the tourist office
    and the booking desk. The one rule the catalogue and the booking desk both read."""
    offers = Offer.objects.select_related("partner")
    if not partner.books_for_all:
        offers = offers.filter(partner=partner)
    return offers.order_by("partner__name", "title_en", "pk")


def offer_list_for_catalogue(
    partner: Partner, *, now: dt.datetime | None = None
) -> QuerySet[Offer]:
    """The offers the acting partner sees, each with its upcoming sessions' count, capacity and
    seats taken: one query, whatever the number of offers and sessions."""
    now = now or timezone.now()
    upcoming = Q(sessions__starts_at__gt=now)
    return offer_list_visible(partner).annotate(
        upcoming_sessions=Count("sessions", filter=upcoming),
        upcoming_capacity=Sum("sessions__capacity", filter=upcoming, default=0),
        upcoming_taken=Sum("sessions__seats_taken", filter=upcoming, default=0),
    )


def partner_list_for_catalogue(membership: Membership) -> QuerySet[Partner]:
    """The partners this manager may create offers for: their own, or every active partner for
    the tourist office."""
    if membership.partner.is_steward:
        return Partner.objects.filter(is_active=True).order_by("name")
    return Partner.objects.filter(pk=membership.partner_id)


def session_list_bookable(offer: Offer) -> QuerySet[Session]:
    """Future sessions of an offer with seats left, soonest first."""
    return Session.objects.filter(
        offer=offer, starts_at__gt=timezone.now(), seats_taken__lt=F("capacity")
    ).order_by("starts_at", "pk")


def session_list_upcoming(offer: Offer) -> QuerySet[Session]:
    return session_list_bookable(offer).order_by("starts_at", "pk")


def session_list_for_editing(offer: Offer, *, now: dt.datetime | None = None) -> QuerySet[Session]:
    """The offer's upcoming sessions with the number of bookings each has (any status)."""
    now = now or timezone.now()
    return (
        Session.objects.filter(offer=offer, ends_at__gt=now)
        .annotate(booking_count=Count("bookings"))
        .order_by("starts_at", "pk")
    )


# --- Bookings ----------------------------------------------------------------------------------


def booking_list_for_guest(guest: Guest) -> QuerySet[Booking]:
    """Bookings the guest made or takes part in, newest first."""
    return (
        Booking.objects.filter(Q(booker=guest) | Q(participants__guest=guest))
        .distinct()
        .select_related("session__offer__partner", "partner", "booker")
        .order_by("-created_at", "-id")
    )


def booking_list_for_partner(partner: Partner) -> QuerySet[Booking]:
    """A partner's bookings, newest first. The booking desk and the tourist office see all."""
    qs = Booking.objects.select_related("session__offer", "partner", "booker")
    if not partner.books_for_all:
        qs = qs.filter(partner=partner)
    return qs.order_by("-created_at", "-id")


def booking_list_balance_overdue(partner: Partner | None = None) -> QuerySet[Booking]:
    """Bookings whose balance was not paid by its date: the booking desk's follow-up list."""
    qs = Booking.objects.filter(
        balance_overdue_at__isnull=False, status=Booking.Status.CONFIRMED
    ).select_related("session__offer", "partner", "booker")
    if partner is not None and not partner.books_for_all:
        qs = qs.filter(partner=partner)
    return qs.order_by("balance_due_on", "pk")


def booking_list_for_user(user: User) -> QuerySet[Booking]:
    """Bookings whose booker has one of the user's VERIFIED email addresses: an unverified
    address proves nothing, and anyone could sign up with somebody else's."""
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
    """The desk's list: what ``booking_list_for_partner`` lets the acting partner see (its own
    bookings; every booking for the tourist office and the booking desk), filtered.
    ``overdue``: what the desk must follow up: a confirmed booking whose balance is still owed
    past its due date (flagged by the nightly task, or not flagged yet), or a card refund that
    failed. ``period``: "upcoming" (not ended yet, soonest
    first), "past" (ended, latest first) or "all"."""
    bookings = booking_list_for_partner(partner)
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


def booking_get_with_details(booking: Booking) -> Booking:
    """The booking again with what the confirmation page shows, in two queries."""
    return (
        Booking.objects.select_related("session__offer__partner", "booker")
        .prefetch_related(Prefetch("participants"))
        .get(pk=booking.pk)
    )


def booking_paid_by_provider(booking: Booking) -> dict[str, int]:
    """What the booking received, in cents, per provider ("stripe": by card online, refunded
    through Stripe; "on_site": taken at the desk, given back there). Reads ``payments``, so a
    prefetch serves it."""
    paid = {payments.STRIPE: 0, payments.ON_SITE: 0}
    for payment in booking.payments.all():
        if payment.kind != Payment.Kind.REFUND and payment.status == Payment.Status.SUCCEEDED:
            paid[payment.provider] = paid.get(payment.provider, 0) + payment.amount_cents
    return paid


def booking_event_list_after(last_id: int, limit: int = 100) -> list[BookingEvent]:
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
    for the booking desk and the tourist office (``booking_list_for_partner``), and other partners'
    bookings of the guests in ``opened_guest_ids`` (those whose BOOKINGS section the caller's
    access check opened to this partner)."""
    visible = booking_list_for_partner(partner).filter(booker_id__in=guest_ids)
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
