"""factory_boy factories shared by the whole suite."""

import factory
from django.utils import timezone

from destination.models import Guest, GuestEmail, GuestPhone, User
from destination.normalize import fold_name
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
