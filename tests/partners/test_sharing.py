"""The default sharing rules live in code (partners.sharing) and the migrations write them."""

from __future__ import annotations

import pytest

from partners.models import SharingRule
from partners.sharing import DEFAULT_RULES, sharing_rules_ensure

pytestmark = pytest.mark.django_db


def _rules() -> set[tuple[str, str, tuple[str, ...]]]:
    return {(r.level, r.partner_kind, tuple(r.sections)) for r in SharingRule.objects.all()}


def _defaults() -> set[tuple[str, str, tuple[str, ...]]]:
    return {(str(lv), kind, tuple(str(s) for s in secs)) for lv, kind, secs in DEFAULT_RULES}


def test_the_migrated_database_holds_the_default_rules():
    assert _rules() == _defaults()


def test_sharing_rules_ensure_restores_them_and_is_idempotent():
    SharingRule.objects.filter(partner_kind="").update(sections=[])
    SharingRule.objects.filter(partner_kind="tourist_office").delete()
    assert sharing_rules_ensure() == 6
    sharing_rules_ensure()
    assert _rules() == _defaults()
    assert SharingRule.objects.count() == 6
