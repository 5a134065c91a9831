"""A small, realistic world for the portal's tests, e2e run and screenshots: partners with
their staff, the default sharing rules (transactional tests flush the data migration's rows),
a guest with a history written through the real services, and a pair of duplicates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone, translation
from django.utils.formats import date_format

from bookings.models import Booking, Offer, Session
from destination.models import (
    Guest,
    GuestEmail,
    GuestPhone,
    Household,
    PossibleDuplicate,
    Purpose,
    TimelineEvent,
    User,
)
from destination.normalize import fold_name
from destination.services.consent import consent_record
from destination.services.timeline import timeline_add
from partners.models import Interaction, Membership, Partner
from partners.services import guest_relationship_prove, interaction_log, partner_guest_link_touch
from partners.sharing import sharing_rules_ensure
from tests.factories import ConsentWordingFactory, TagFactory

PASSWORD = "correct horse battery"


def staff(email: str, partner: Partner, *, first: str, last: str, role: str = "agent") -> User:
    user = User.objects.create_user(
        email=email, password=PASSWORD, first_name=first, last_name=last
    )
    Membership.objects.create(user=user, partner=partner, role=role)
    return user


def guest_make(first: str, last: str, *, email: str = "", phone: str = "", **fields) -> Guest:
    guest = Guest.objects.create(
        first_name=first,
        last_name=last,
        name_folded=fold_name(first, last),
        source=Guest.Source.DESK,
        **fields,
    )
    if email:
        GuestEmail.objects.create(guest=guest, email=email, email_normalized=email, is_primary=True)
    if phone:
        GuestPhone.objects.create(guest=guest, phone=phone, is_primary=True)
    from destination.services.resolution import match_keys_refresh

    match_keys_refresh([guest.pk])
    return guest


def _english_date(at: dt.datetime) -> str:
    with translation.override("en"):
        return date_format(timezone.localtime(at), "DATE_FORMAT")


@dataclass
class World:
    school: Partner
    rental: Partner
    office: Partner
    school_agent: User
    rental_agent: User
    office_manager: User
    jeanne: Guest
    dup_a: Guest
    dup_b: Guest
    pair: PossibleDuplicate


def world_build() -> World:
    sharing_rules_ensure()
    school = Partner.objects.create(name="ESF Val Neige", slug="esf", kind=Partner.Kind.SKI_SCHOOL)
    rental = Partner.objects.create(
        name="Alpine Rentals", slug="alpine-rentals", kind=Partner.Kind.EQUIPMENT_RENTAL
    )
    office = Partner.objects.create(
        name="Office de Tourisme", slug="office", kind=Partner.Kind.TOURIST_OFFICE
    )
    lodge = Partner.objects.create(name="Hôtel Le Sherpa", slug="sherpa", kind=Partner.Kind.LODGING)
    school_agent = staff("claire@esf.example", school, first="Claire", last="Rochat")
    rental_agent = staff("marco@rentals.example", rental, first="Marco", last="Bianchi")
    office_manager = staff(
        "sophie@office.example", office, first="Sophie", last="Durand", role="manager"
    )
    lodge_agent = staff("paul@sherpa.example", lodge, first="Paul", last="Girard")

    household = Household.objects.create(name="Famille Martin")
    jeanne = guest_make(
        "Jeanne", "Martin", email="jeanne.martin@gmail.com", phone="+33612345678",
        country="FR", language="fr", birth_date=dt.date(1984, 3, 12), household=household,
    )  # fmt: skip
    guest_make("Louis", "Martin", country="FR", language="fr", household=household)
    guest_make("Jeanne", "Marton", email="j.marton@orange.fr", country="BE", language="fr")
    jeanne.tags.add(
        TagFactory(slug="skiing", name="Skiing"), TagFactory(slug="family", name="Family")
    )

    now = timezone.now()
    # A stay booked at the hotel last winter and this winter (shared with the destination): the
    # bookings themselves (search shows the last stay from them) and their timeline entries.
    stay = Offer.objects.create(
        partner=lodge, kind=Offer.Kind.STAY, slug="sherpa-rooms", title_en="Rooms at Le Sherpa",
        price_cents=14000, pricing=Offer.Pricing.PER_UNIT, is_published=True,
    )  # fmt: skip
    for months_ago, label in ((11, "3 nights, Chalet room"), (1, "7 nights, Family suite")):
        at = now - dt.timedelta(days=30 * months_ago)
        nights = int(label.split()[0])
        session = Session.objects.create(
            offer=stay, starts_at=at, ends_at=at + dt.timedelta(days=nights), capacity=4
        )
        Booking.objects.create(
            reference=f"VN-SHRP{months_ago:02d}", session=session, partner=lodge, booker=jeanne,
            status=Booking.Status.COMPLETED, seats=1, adults=2, total_cents=14000 * nights,
            paid_cents=14000 * nights, payment_method=Booking.PaymentMethod.ON_SITE,
            channel=Booking.Channel.DESK, confirmed_at=at,
        )  # fmt: skip
        partner_guest_link_touch(partner=lodge, guest=jeanne, reason="booking", at=at, booked=True)
        timeline_add(
            guest=jeanne, kind=TimelineEvent.Kind.BOOKING, occurred_at=at,
            # Worded as bookings writes it (stored in English; the French portal translates it).
            title=f"Booking confirmed VN-SHRP{months_ago:02d}: Rooms at Le Sherpa, "
            f"{_english_date(at)}",
            partner=lodge, body=label,
        )  # fmt: skip
    timeline_add(
        guest=jeanne, kind=TimelineEvent.Kind.MESSAGE, occurred_at=now - dt.timedelta(days=20),
        title="Newsletter “First snow” opened", body="",
    )  # fmt: skip
    wording = ConsentWordingFactory(purpose=Purpose.NEWSLETTER, language="fr")
    consent_record(
        guest=jeanne, purpose=Purpose.NEWSLETTER, granted=True, method="form",
        channels=["email"], wording=wording, occurred_at=now - dt.timedelta(days=40),
    )  # fmt: skip
    sharing = ConsentWordingFactory(purpose=Purpose.PROFILE_SHARING, language="fr")
    for partner in (school, rental):
        consent_record(
            guest=jeanne, purpose=Purpose.PROFILE_SHARING, granted=True, method="desk",
            partners=[partner], wording=sharing, occurred_at=now - dt.timedelta(days=35),
            recorded_by=office_manager, recorded_by_partner=office,
        )  # fmt: skip
    interaction_log(
        guest=jeanne, partner=office, staff=office_manager, kind=Interaction.Kind.REQUEST,
        channel=Interaction.Channel.IN_PERSON, occurred_at=now - dt.timedelta(days=3),
        summary="Asked about ski lessons for her son Louis (8) next week.",
    )  # fmt: skip
    interaction_log(
        guest=jeanne, partner=lodge, staff=lodge_agent, kind=Interaction.Kind.DESK_VISIT,
        channel=Interaction.Channel.IN_PERSON, occurred_at=now - dt.timedelta(days=2),
        summary="Late check-in requested, arriving around 22:00.",
    )  # fmt: skip

    dup_a = guest_make(
        "Thomas", "Lefèvre", email="thomas.lefevre@free.fr", country="FR", language="fr",
        birth_date=dt.date(1979, 7, 2),
    )  # fmt: skip
    dup_b = guest_make(
        "Tomas", "Lefevre", phone="+33698765432", country="FR", language="",
        birth_date=dt.date(1979, 7, 2),
    )  # fmt: skip
    # The rental shop's agent confirmed the guest's phone at the desk (evidence), then logged.
    guest_relationship_prove(
        guest=dup_b, partner=rental, staff=rental_agent, contact="06 98 76 54 32"
    )
    interaction_log(
        guest=dup_b, partner=rental, staff=rental_agent, kind=Interaction.Kind.DESK_VISIT,
        channel=Interaction.Channel.IN_PERSON, summary="Rented skis and boots for 6 days.",
        occurred_at=now - dt.timedelta(days=1),
    )  # fmt: skip
    low, high = sorted((dup_a, dup_b), key=lambda g: g.pk)
    pair = PossibleDuplicate.objects.create(
        guest_a=low, guest_b=high, score=0.87, reasons=["name", "birth_date", "country"],
        detected_by="resolution",
    )  # fmt: skip
    return World(
        school,
        rental,
        office,
        school_agent,
        rental_agent,
        office_manager,
        jeanne,
        dup_a,
        dup_b,
        pair,
    )
