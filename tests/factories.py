"""factory_boy factories shared by the whole suite, and the builders tests import.

Rows made directly (``OfferFactory``, ``SessionFactory``, ``BookingFactory``) skip every rule of
the services; a booking a test reasons about (seats, consents, timeline, outbox) is made with
``book()``, which goes through the real ``booking_create``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone

from bookings.models import Booking, Offer, Session
from bookings.services import booking_create
from destination.models import Guest, GuestEmail, GuestPhone, User
from destination.normalize import fold_name
from destination.services.resolution import PersonData
from partners.models import Interaction, Membership, Partner


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"staff{n}@partners.example")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"Partner {n}")
    slug = factory.Sequence(lambda n: f"partner-{n}")
    kind = Partner.Kind.SKI_SCHOOL


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    partner = factory.SubFactory(PartnerFactory)
    role = Membership.Role.AGENT


class GuestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Guest

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    name_folded = factory.LazyAttribute(lambda o: fold_name(o.first_name, o.last_name))
    language = "fr"
    country = "FR"
    source = Guest.Source.DESK


class GuestEmailFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GuestEmail

    guest = factory.SubFactory(GuestFactory)
    email = factory.Sequence(lambda n: f"guest{n}@mail.example")
    email_normalized = factory.LazyAttribute(lambda o: o.email.strip().lower())
    is_primary = True


class GuestPhoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GuestPhone

    guest = factory.SubFactory(GuestFactory)
    phone = factory.Sequence(lambda n: f"+336{n:08d}")
    is_primary = True


class InteractionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interaction

    guest = factory.SubFactory(GuestFactory)
    partner = factory.SubFactory(PartnerFactory)
    kind = Interaction.Kind.DESK_VISIT
    channel = Interaction.Channel.IN_PERSON
    summary = factory.Faker("sentence")
    occurred_at = factory.LazyFunction(timezone.now)


# --- Consent, relationships and tags (consent ledger and access layer tests) ---------------


class ConsentWordingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "destination.ConsentWording"

    purpose = "newsletter"
    version = factory.Sequence(lambda n: f"v{n + 1}")
    language = "fr"
    text = factory.LazyAttribute(lambda o: f"I agree ({o.purpose} {o.version}).")


class PartnerGuestLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "partners.PartnerGuestLink"

    partner = factory.SubFactory(PartnerFactory)
    guest = factory.SubFactory(GuestFactory)
    reason = "booking"
    first_seen_at = factory.LazyFunction(timezone.now)
    last_seen_at = factory.LazyAttribute(lambda o: o.first_seen_at)


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "destination.Tag"
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"tag-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())


# --- Offers, sessions and bookings ---------------------------------------------------------


class OfferFactory(factory.django.DjangoModelFactory):
    """A published group lesson at 50 EUR a seat, no participant names asked."""

    class Meta:
        model = Offer

    partner = factory.SubFactory(PartnerFactory, kind=Partner.Kind.SKI_SCHOOL)
    kind = Offer.Kind.GROUP_LESSON
    slug = factory.Sequence(lambda n: f"factory-offer-{n}")
    title_en = "Group ski lesson"
    title_fr = "Cours de ski collectif"
    price_cents = 5000
    is_published = True
    needs_participant_names = False


class SessionFactory(factory.django.DjangoModelFactory):
    """A session ``days`` from now (to the second), ``hours`` long."""

    class Meta:
        model = Session

    class Params:
        days = 40
        hours = 3

    offer = factory.SubFactory(OfferFactory)
    starts_at = factory.LazyAttribute(
        lambda o: (timezone.now() + timedelta(days=o.days)).replace(microsecond=0)
    )
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(hours=o.hours))
    capacity = 10


class BookingFactory(factory.django.DjangoModelFactory):
    """A confirmed pay-on-site booking row, written directly: no seats taken, no timeline, no
    consent, no outbox event. Use ``book()`` when any of those matter."""

    class Meta:
        model = Booking

    session = factory.SubFactory(SessionFactory)
    partner = factory.LazyAttribute(lambda o: o.session.offer.partner)
    booker = factory.SubFactory(GuestFactory)
    reference = factory.Sequence(lambda n: f"FB{n:06d}")
    status = Booking.Status.CONFIRMED
    adults = 2
    children = 0
    seats = factory.LazyAttribute(lambda o: o.adults + o.children)
    total_cents = factory.LazyAttribute(lambda o: o.seats * o.session.offer.price_cents)
    payment_method = Booking.PaymentMethod.ON_SITE
    channel = Booking.Channel.WEB
    language = "fr"
    confirmed_at = factory.LazyFunction(timezone.now)


def offer_make(partner: Partner, **kwargs: Any) -> Offer:
    return OfferFactory(partner=partner, **kwargs)


def session_make(offer: Offer, *, capacity: int = 10, days: int = 40, hours: int = 3) -> Session:
    return SessionFactory(offer=offer, capacity=capacity, days=days, hours=hours)


def person(n: int = 1, **kwargs: Any) -> PersonData:
    """A booker as a form hands it to the services (``n`` varies the name and email)."""
    data: dict[str, Any] = {
        "first_name": f"Camille{n}" if n else "Camille",
        "last_name": "Martin",
        "email": f"camille.martin{n}@example.org",
        "language": "fr",
        "country": "FR",
    }
    data.update(kwargs)
    return PersonData(**data)


def book(session: Session, **kwargs: Any) -> Booking:
    """A booking made through ``booking_create``: two adults paying on site, on the web, unless
    ``kwargs`` say otherwise (any of the service's arguments)."""
    args: dict[str, Any] = {
        "session": session,
        "booker": person(),
        "participants": [],
        "adults": 2,
        "children": 0,
        "payment_method": Booking.PaymentMethod.ON_SITE,
        "consents": [],
        "channel": Booking.Channel.WEB,
        "language": "fr",
    }
    args.update(kwargs)
    return booking_create(**args)
