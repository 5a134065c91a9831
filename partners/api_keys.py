"""Partner API keys: create (the full key is returned once), revoke, and find the key a request
presents. A key reads "<prefix>.<secret>"; the prefix finds the row, the SHA-256 of the whole key
proves it. A hash, not a password hasher: the secret is 256 random bits, nothing to brute-force,
and every API call checks it."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from destination.services import GuestError
from partners.models import Partner, PartnerApiKey


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def partner_api_key_create(*, partner: Partner, name: str) -> tuple[PartnerApiKey, str]:
    """A new key for ``partner``; returns the row and the full key, which is never stored."""
    name = " ".join((name or "").split())
    if not name:
        raise GuestError(_("Name the key after the system that uses it."))
    for _attempt in range(5):
        prefix = secrets.token_hex(4)
        key = f"{prefix}.{secrets.token_urlsafe(32)}"
        try:
            with transaction.atomic():
                row = PartnerApiKey.objects.create(
                    partner=partner, name=name[:100], prefix=prefix, key_hash=_hash(key)
                )
        except IntegrityError:
            continue  # the prefix is taken: draw another
        return row, key
    raise GuestError(_("Could not create a unique API key; try again."))


def partner_api_key_revoke(*, key: PartnerApiKey) -> PartnerApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def partner_api_key_find(presented: str) -> PartnerApiKey | None:
    """The active key of an active partner that ``presented`` is, or None."""
    prefix, dot, _secret = (presented or "").strip().partition(".")
    if not dot or len(prefix) != 8:
        return None
    row = (
        PartnerApiKey.objects.select_related("partner")
        .filter(prefix=prefix, revoked_at__isnull=True, partner__is_active=True)
        .first()
    )
    if row is None or not hmac.compare_digest(row.key_hash, _hash(presented.strip())):
        return None
    return row
