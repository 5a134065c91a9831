"""Demo offers, sessions and bookings for the Val Neige demo destination (called by seed_demo).

Offers are written for this project in English and French; bookings go through
``booking_create`` like real traffic, for existing demo guests (resolved back to them)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Count
from django.utils import timezone

from bookings.models import Booking, Offer, Session
from bookings.services import BookingError, ParticipantData, booking_create
from destination.models import Guest, GuestEmail
from destination.services.resolution import PersonData
from partners.models import Membership, Partner

if TYPE_CHECKING:
    from destination.management.commands.seed_demo import DemoSeeder

# slug, partner slug, kind, pricing, price, child price, deposit %, names?, capacity,
# start time, hours, weekdays (0 = Monday), title en/fr, description en/fr
OFFERS: list[dict[str, Any]] = [
    {
        "slug": "sommets-group-beginners",
        "partner": "ski-school-1",
        "kind": "group_lesson",
        "price": 5200,
        "child": 4600,
        "names": True,
        "capacity": 10,
        "at": time(9, 0),
        "hours": 2.5,
        "days": range(0, 6),
        "title_en": "Beginner group ski lesson (morning)",
        "title_fr": "Cours collectif de ski débutant (matin)",
        "description_en": "Two and a half hours on the gentle slopes of the Plateau with a "
        "qualified instructor. First turns, stopping safely, using the button lift. Groups of "
        "ten at most; skis not included.",
        "description_fr": "Deux heures et demie sur les pentes douces du Plateau avec un "
        "moniteur diplômé. Premiers virages, arrêt en sécurité, prise du téléski. Dix élèves "
        "au plus par groupe ; skis non compris.",
    },
    {
        "slug": "sommets-group-intermediate",
        "partner": "ski-school-1",
        "kind": "group_lesson",
        "price": 5800,
        "child": 5200,
        "names": True,
        "capacity": 8,
        "at": time(13, 30),
        "hours": 2.5,
        "days": range(0, 6),
        "title_en": "Intermediate group ski lesson (afternoon)",
        "title_fr": "Cours collectif de ski intermédiaire (après-midi)",
        "description_en": "For skiers at ease on blue runs who want parallel turns on red ones. "
        "Eight people per group, meeting point at the foot of the Crêtes chairlift.",
        "description_fr": "Pour les skieurs à l'aise sur les pistes bleues qui veulent "
        "enchaîner des virages parallèles sur les rouges. Huit personnes par groupe, rendez-vous "
        "au pied du télésiège des Crêtes.",
    },
    {
        "slug": "sommets-private-lesson",
        "partner": "ski-school-1",
        "kind": "private_lesson",
        "pricing": "per_unit",
        "price": 6500,
        "names": True,
        "capacity": 1,
        "at": time(12, 0),
        "hours": 1,
        "days": range(0, 7),
        "title_en": "Private ski lesson, one hour",
        "title_fr": "Cours particulier de ski, une heure",
        "description_en": "One instructor for you or your family (up to four people), at the "
        "lunchtime hour when the slopes are quiet.",
        "description_fr": "Un moniteur pour vous ou votre famille (quatre personnes au plus), "
        "à l'heure du déjeuner quand les pistes sont calmes.",
    },
    {
        "slug": "glisse-kids-club",
        "partner": "ski-school-2",
        "kind": "group_lesson",
        "price": 4900,
        "child": 4900,
        "names": True,
        "capacity": 10,
        "at": time(9, 30),
        "hours": 2.5,
        "days": range(0, 5),
        "title_en": "Kids' ski club, 5 to 12 years",
        "title_fr": "Club enfants, de 5 à 12 ans",
        "description_en": "Games and skiing in small groups by level, with a badge test on "
        "Friday. Helmets are compulsory.",
        "description_fr": "Jeux et ski en petits groupes de niveau, passage des étoiles le "
        "vendredi. Casque obligatoire.",
    },
    {
        "slug": "glisse-snowboard-group",
        "partner": "ski-school-2",
        "kind": "group_lesson",
        "price": 5500,
        "names": True,
        "capacity": 8,
        "at": time(14, 0),
        "hours": 2,
        "days": (0, 2, 4),
        "title_en": "Snowboard group lesson",
        "title_fr": "Cours collectif de snowboard",
        "description_en": "Learn to link turns on a board in two hours, from 12 years old.",
        "description_fr": "Apprenez à enchaîner les virages en snowboard en deux heures, dès "
        "12 ans.",
    },
    {
        "slug": "cimes-double-room-week",
        "partner": "lodging-1",
        "kind": "stay",
        "pricing": "per_unit",
        "price": 14500,
        "deposit": 30,
        "capacity": 6,
        "at": time(16, 0),
        "hours": 7 * 24 - 6,
        "days": (5,),
        "cancel": 30,
        "title_en": "Hotel Les Cimes: double room, Saturday to Saturday",
        "title_fr": "Hôtel Les Cimes : chambre double, du samedi au samedi",
        "description_en": "A south-facing double room with breakfast, a hundred metres from the "
        "slopes. Price per room and per night; 30 % deposit, balance 30 days before arrival.",
        "description_fr": "Chambre double plein sud avec petit-déjeuner, à cent mètres des "
        "pistes. Prix par chambre et par nuit ; acompte de 30 %, solde 30 jours avant "
        "l'arrivée.",
    },
    {
        "slug": "chamois-apartment-4",
        "partner": "lodging-2",
        "kind": "stay",
        "pricing": "per_unit",
        "price": 11000,
        "deposit": 30,
        "capacity": 8,
        "at": time(17, 0),
        "hours": 7 * 24 - 7,
        "days": (5,),
        "cancel": 30,
        "title_en": "Résidence Le Chamois: apartment for four",
        "title_fr": "Résidence Le Chamois : appartement quatre personnes",
        "description_en": "Two rooms with a kitchen and a balcony, ski locker included. Price "
        "per apartment and per night; 30 % deposit, balance 30 days before arrival.",
        "description_fr": "Deux pièces avec cuisine et balcon, casier à skis compris. Prix par "
        "appartement et par nuit ; acompte de 30 %, solde 30 jours avant l'arrivée.",
    },
    {
        "slug": "marmottes-chalet",
        "partner": "lodging-3",
        "kind": "stay",
        "pricing": "per_unit",
        "price": 42000,
        "deposit": 30,
        "capacity": 1,
        "at": time(16, 0),
        "hours": 7 * 24 - 6,
        "days": (6,),
        "cancel": 45,
        "title_en": "Chalet des Marmottes, the whole chalet (ten people)",
        "title_fr": "Chalet des Marmottes, le chalet entier (dix personnes)",
        "description_en": "Five bedrooms, a wood stove and a sauna, from Sunday to Sunday. "
        "30 % deposit, balance 30 days before arrival.",
        "description_fr": "Cinq chambres, un poêle à bois et un sauna, du dimanche au dimanche. "
        "Acompte de 30 %, solde 30 jours avant l'arrivée.",
    },
    {
        "slug": "neige-sport-ski-pack-6-days",
        "partner": "rental-1",
        "kind": "rental",
        "price": 8900,
        "child": 5900,
        "capacity": 40,
        "at": time(8, 30),
        "hours": 6 * 24,
        "days": (6,),
        "title_en": "Ski pack for six days (skis, boots, poles)",
        "title_fr": "Pack ski six jours (skis, chaussures, bâtons)",
        "description_en": "Fitted in the shop the evening before, swapped free of charge during "
        "the week.",
        "description_fr": "Réglé en boutique la veille, échange gratuit pendant la semaine.",
    },
    {
        "slug": "alti-snowboard-day",
        "partner": "rental-2",
        "kind": "rental",
        "price": 3200,
        "capacity": 15,
        "at": time(8, 30),
        "hours": 9,
        "days": range(0, 7),
        "title_en": "Snowboard and boots, one day",
        "title_fr": "Snowboard et chaussures, une journée",
        "description_en": "Freshly waxed boards for every level.",
        "description_fr": "Des planches fraîchement fartées pour tous les niveaux.",
    },
    {
        "slug": "val-neige-6-day-pass",
        "partner": "booking-desk",
        "kind": "pass",
        "price": 28900,
        "child": 23100,
        "capacity": 300,
        "at": time(8, 45),
        "hours": 6 * 24,
        "days": (6,),
        "title_en": "Val Neige six-day lift pass",
        "title_fr": "Forfait Val Neige six jours",
        "description_en": "Every lift of the Val Neige ski area from Sunday to Friday. Children "
        "from 5 to 12 at the reduced price.",
        "description_fr": "Toutes les remontées du domaine de Val Neige du dimanche au vendredi. "
        "Tarif réduit pour les enfants de 5 à 12 ans.",
    },
]


def _sessions(offer: Offer, spec: dict[str, Any], *, weeks: int, now: datetime) -> list[Session]:
    tz = timezone.get_current_timezone()
    today = timezone.localdate(now)
    rows = []
    for day in range(1, weeks * 7 + 1):
        date = today + timedelta(days=day)
        if date.weekday() not in spec["days"]:
            continue
        start = datetime.combine(date, spec["at"], tzinfo=tz)
        rows.append(
            Session(
                offer=offer,
                starts_at=start,
                ends_at=start + timedelta(hours=spec["hours"]),
                capacity=spec["capacity"],
            )
        )
    return Session.objects.bulk_create(rows)


def demo_offers_seed(*, weeks: int = 6, now: datetime | None = None) -> list[Offer]:
    """The demo partners' offers and their sessions over the coming ``weeks``."""
    now = now or timezone.now()
    partners = {p.slug: p for p in Partner.objects.filter(slug__in={o["partner"] for o in OFFERS})}
    offers = []
    for spec in OFFERS:
        partner = partners.get(spec["partner"])
        if partner is None:
            continue
        offer = Offer.objects.create(
            partner=partner,
            slug=spec["slug"],
            kind=spec["kind"],
            title_en=spec["title_en"],
            title_fr=spec["title_fr"],
            description_en=spec["description_en"],
            description_fr=spec["description_fr"],
            price_cents=spec["price"],
            child_price_cents=spec.get("child"),
            pricing=spec.get("pricing", Offer.Pricing.PER_PERSON),
            deposit_percent=spec.get("deposit"),
            balance_due_days=30,
            free_cancellation_days=spec.get("cancel", 2),
            needs_participant_names=spec.get("names", False),
            is_published=True,
        )
        _sessions(offer, spec, weeks=weeks, now=now)
        offers.append(offer)
    return offers


def demo_bookings_seed(
    *, rng: random.Random, count: int = 60, log: Callable[[str], None] | None = None
) -> dict[str, int]:
    """Offers, sessions, then ``count`` bookings by existing demo guests through
    ``booking_create`` (web, desk and phone; paid on site, as the demo has no Stripe keys)."""
    offers = demo_offers_seed()
    desk_staff = (
        Membership.objects.filter(partner__kind=Partner.Kind.BOOKING_DESK, is_active=True)
        .select_related("user")
        .first()
    )
    guests = list(
        # Guests the partners have not logged interactions with: their bookings are their
        # latest contact, while the interaction history keeps its own last-contact dates.
        Guest.objects.filter(
            status=Guest.Status.ACTIVE, emails__is_primary=True, interactions__isnull=True
        )
        .annotate(n=Count("emails"))
        .order_by("pk")[:2000]
    )
    emails = dict(
        GuestEmail.objects.filter(guest__in=guests, is_primary=True).values_list(
            "guest_id", "email"
        )
    )
    made = refused = 0
    for _i in range(count if guests else 0):
        guest = rng.choice(guests)
        offer = rng.choice(offers)
        sessions = list(offer.sessions.order_by("starts_at")[:30])
        session = rng.choice(sessions)
        per_unit = offer.pricing == Offer.Pricing.PER_UNIT
        adults = 1 if offer.kind == Offer.Kind.PRIVATE_LESSON else rng.choice([1, 2, 2, 3])
        children = 0 if per_unit else rng.choice([0, 0, 1, 2])
        if offer.slug == "glisse-kids-club":
            adults, children = 0, rng.choice([1, 2])
        participants = []
        if offer.needs_participant_names:
            participants = [ParticipantData(guest.first_name, guest.last_name)][:adults]
            participants += [
                ParticipantData(rng.choice(ADULTS), guest.last_name) for _a in range(adults - 1)
            ]
            participants += [
                ParticipantData(rng.choice(CHILDREN), guest.last_name, is_child=True)
                for _c in range(children)
            ]
        channel = rng.choice(
            [Booking.Channel.WEB] * 3 + [Booking.Channel.DESK, Booking.Channel.PHONE]
        )
        try:
            booking_create(
                session=session,
                booker=PersonData(
                    first_name=guest.first_name,
                    last_name=guest.last_name,
                    email=emails.get(guest.pk, ""),
                    language=guest.language,
                ),
                participants=participants,
                adults=adults,
                children=children,
                payment_method=Booking.PaymentMethod.ON_SITE,
                consents=[],
                channel=channel,
                language=guest.language if guest.language in ("en", "fr") else "en",
                created_by=desk_staff.user if desk_staff and channel != "web" else None,
                units=1 if per_unit else None,
            )
            made += 1
        except BookingError:
            refused += 1  # a full session or a late stay: real life
    if log:
        log(f"bookings: {len(offers)} offers, {made} bookings ({refused} refused)")
    return {"offers": len(offers), "bookings": made}


ADULTS = ["Claire", "Marc", "Julia", "Tom", "Anna", "Luc", "Sara", "Paul"]
CHILDREN = ["Léa", "Noah", "Emma", "Hugo", "Mila", "Jules", "Lina", "Nino"]


def demo_step(seeder: DemoSeeder) -> None:
    """The bookings step of ``seed_demo`` (registered in ``bookings/apps.py``)."""
    demo_bookings_seed(rng=seeder.rng, count=min(60, max(5, seeder.count // 20)), log=seeder.log)
