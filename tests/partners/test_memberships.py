"""Membership.objects.active(): the one definition of "a membership that lets someone act"."""

from __future__ import annotations

import pytest

from partners.access import membership_for, staff_home_url
from partners.models import Membership
from partners.selectors import partner_list_for_user
from tests.factories import MembershipFactory, PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_active_keeps_active_memberships_of_active_partners_only():
    user = UserFactory()
    kept = MembershipFactory(user=user, partner=PartnerFactory(name="B"))
    MembershipFactory(user=user, is_active=False)
    MembershipFactory(user=user, partner=PartnerFactory(is_active=False))
    assert list(Membership.objects.active().filter(user=user)) == [kept]
    assert list(partner_list_for_user(user)) == [kept.partner]
    assert membership_for(user, kept.partner) == kept


def test_staff_without_an_active_membership_keep_the_default_landing_page():
    user = UserFactory()
    MembershipFactory(user=user, partner=PartnerFactory(is_active=False))
    assert staff_home_url(user) is None
    MembershipFactory(user=user)
    assert staff_home_url(user) == "/en/portal/"
