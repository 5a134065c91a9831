"""Rows the booking page tests need, made directly (no service involved)."""

from __future__ import annotations

import datetime as dt
import itertools

from django.utils import timezone

from bookings.models import Offer, Session
from destination.models import ConsentWording, Purpose
from partners.models import Partner
from tests.factories import PartnerFactory

_n = itertools.count()


def make_offer(
    *,
    partner: Partner | None = None,
    kind: str = Offer.Kind.GROUP_LESSON,
    price_cents: int = 4500,
    names: bool | None = None,
    sessions: int = 2,
    capacity: int = 8,
    **fields: object,
) -> Offer:
    n = next(_n)
    offer = Offer.objects.create(
        partner=partner or PartnerFactory(kind=Partner.Kind.SKI_SCHOOL),
        kind=kind,
        slug=f"offer-{n}",
        title_en=fields.pop("title_en", f"Group ski lesson {n}"),
        title_fr=fields.pop("title_fr", f"Cours de ski collectif {n}"),
        description_en="Three hours on the slopes with an instructor.",
        description_fr="Trois heures sur les pistes avec un moniteur.",
        price_cents=price_cents,
        is_published=fields.pop("is_published", True),
        needs_participant_names=(
            names if names is not None else kind in (Offer.Kind.GROUP_LESSON, "private_lesson")
        ),
        **fields,
    )
    for day in range(sessions):
        make_session(offer, days=day + 3, capacity=capacity)
    return offer


def make_session(
    offer: Offer,
    *,
    days: float = 3,
    capacity: int = 8,
    taken: int = 0,
    start: dt.datetime | None = None,
) -> Session:
    if start is None:
        start = timezone.now().replace(hour=9, minute=0, second=0, microsecond=0) + dt.timedelta(
            days=days
        )
    return Session.objects.create(
        offer=offer,
        starts_at=start,
        ends_at=start + dt.timedelta(hours=3),
        capacity=capacity,
        seats_taken=taken,
    )


def make_wordings() -> dict[str, ConsentWording]:
    texts = {
        Purpose.NEWSLETTER: "I agree to receive the Val Neige newsletter.",
        Purpose.PARTNER_OFFERS: "I agree to receive offers from the partners named above.",
        Purpose.PROFILE_SHARING: "I agree that my profile is shared with the partners above.",
    }
    out = {}
    for purpose, text in texts.items():
        out[purpose] = ConsentWording.objects.create(
            purpose=purpose, language="en", version="t1", text=text
        )
        ConsentWording.objects.create(
            purpose=purpose, language="fr", version="t1", text=f"[fr] {text}"
        )
    return out


def booking_post(session: Session, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "session": session.pk,
        "adults": 2,
        "children": 1,
        "first_name": "Léa",
        "last_name": "Martin",
        "email": "lea.martin@mail.example",
        "phone": "06 12 34 56 78",
        "country": "FR",
        "language": "en",
        "p0_first_name": "Léa",
        "p0_last_name": "Martin",
        "p1_first_name": "Hugo",
        "p1_last_name": "Martin",
        "p2_first_name": "Zoé",
        "p2_last_name": "Martin",
        "expected_total_cents": 3 * session.offer.price_cents,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def make_booking(session: Session, *, email: str = "guest@mail.example", **kwargs: object):
    """A confirmed pay-on-site booking made through the core's service."""
    from bookings import services
    from bookings.models import Booking
    from destination.services.resolution import PersonData

    adults = int(kwargs.pop("adults", 1))
    names = session.offer.needs_participant_names
    return services.booking_create(
        session=session,
        booker=PersonData(first_name="Ana", last_name=email.split("@")[0].title(), email=email),
        participants=[services.ParticipantData("Ana", "Guest")] * adults if names else [],
        adults=adults,
        children=0,
        payment_method=kwargs.pop("payment_method", Booking.PaymentMethod.ON_SITE),
        consents=[],
        channel=kwargs.pop("channel", Booking.Channel.WEB),
        language="en",
        **kwargs,
    )
