import pytest
from django.utils import translation

from partners.models import Membership, Partner
from tests.factories import GuestFactory, MembershipFactory, PartnerFactory, UserFactory


@pytest.fixture
def school(db) -> Partner:
    return PartnerFactory(name="Ski School Alpha", kind=Partner.Kind.SKI_SCHOOL)


@pytest.fixture
def rental(db) -> Partner:
    return PartnerFactory(name="Rental Beta", kind=Partner.Kind.EQUIPMENT_RENTAL)


@pytest.fixture
def office(db) -> Partner:
    return PartnerFactory(name="Tourist Office", kind=Partner.Kind.TOURIST_OFFICE)


@pytest.fixture
def agent(school):
    return MembershipFactory(partner=school, user=UserFactory(email="agent@school.example")).user


@pytest.fixture
def rental_agent(rental):
    return MembershipFactory(partner=rental, user=UserFactory(email="agent@rental.example")).user


@pytest.fixture
def steward(office):
    return MembershipFactory(
        partner=office, role=Membership.Role.MANAGER, user=UserFactory(email="boss@office.example")
    ).user


@pytest.fixture
def guest(db):
    return GuestFactory(first_name="Jeanne", last_name="Martin", country="FR", language="fr")


@pytest.fixture(autouse=True)
def _english():
    """A French page in one test must not leave reverse() speaking French in the next."""
    translation.activate("en")
    yield
    translation.activate("en")
