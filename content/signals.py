"""Keeps each partner's Wagtail group in step with its pages and staff (see
``content.services.partner_page_editors_ensure``)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from content.models import PartnerPage
from content.services import partner_page_editors_ensure
from partners.models import Partner


def partner_page_saved(sender: type, instance: Any, created: bool, **kwargs: Any) -> None:
    if created and not kwargs.get("raw"):
        _ensure_on_commit(instance.partner_id)


def membership_changed(sender: type, instance: Any, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    if PartnerPage.objects.filter(partner_id=instance.partner_id).exists():
        _ensure_on_commit(instance.partner_id)


def _ensure_on_commit(partner_id: int | None) -> None:
    if partner_id is None:
        return

    def ensure() -> None:
        partner = Partner.objects.filter(pk=partner_id).first()
        if partner is not None:
            partner_page_editors_ensure(partner=partner)

    transaction.on_commit(ensure)
