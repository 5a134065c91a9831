"""The bookings' share of the GDPR export and erasure, registered with the core in
``bookings/apps.py`` (``destination.registry``)."""

from __future__ import annotations

from typing import Any

from django.db.models import Case, Q, Value, When

from bookings.models import Booking, Participant
from destination.models import Guest

ERASED_TEXT = "[erased]"


def bookings_export(guest: Guest) -> list[dict[str, Any]]:
    """The bookings section of a guest's full export: as booker and as participant."""
    rows = (
        Booking.objects.filter(Q(booker=guest) | Q(participants__guest=guest))
        .distinct()
        .select_related("session__offer", "partner")
        .prefetch_related("participants")
        .order_by("created_at", "pk")
    )
    return [
        {
            "reference": b.reference,
            "role": "booker" if b.booker_id == guest.pk else "participant",
            "partner": b.partner.name,
            "offer": b.session.offer.title_en,
            "starts_at": b.session.starts_at.isoformat(),
            "status": b.status,
            "seats": b.seats,
            "adults": b.adults,
            "children": b.children,
            "total_cents": b.total_cents,
            "paid_cents": b.paid_cents,
            "refunded_cents": b.refunded_cents,
            "payment_method": b.payment_method,
            "channel": b.channel,
            "language": b.language,
            "contact_name": b.contact_name,
            "contact_email": b.contact_email,
            "contact_phone": b.contact_phone,
            "cancel_reason": b.cancel_reason,
            "created_at": b.created_at.isoformat(),
            "participants": [
                {"first_name": p.first_name, "last_name": p.last_name, "is_child": p.is_child}
                for p in b.participants.all()
                if b.booker_id == guest.pk or p.guest_id == guest.pk
            ],
        }
        for b in rows
    ]


def bookings_erase(guest_ids: list[int]) -> dict[str, int]:
    """Anonymise bookings of erased guests, set-based: amounts, dates, statuses and the payment
    rows stay (accounting); contact details, names, free text and the source page go."""
    booked = Booking.objects.filter(booker_id__in=guest_ids).update(
        contact_name="",
        contact_email="",
        contact_phone="",
        source_url="",
        cancel_reason=Case(When(cancel_reason="", then=Value("")), default=Value(ERASED_TEXT)),
    )
    named = Participant.objects.filter(guest_id__in=guest_ids).update(first_name="", last_name="")
    return {"bookings": booked, "booking_participants": named}
