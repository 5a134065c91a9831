"""Opaque signed tokens of the links in emails: the message's random UUID, HMAC-signed.

One message is one recipient and one list (its consent scope), so the token of the message names
both without showing either; a token cannot be forged or moved to another message."""

from __future__ import annotations

import uuid

from django.core import signing

UNSUBSCRIBE_SALT = "newsletters.unsubscribe"


def unsubscribe_token(*, message_uuid: uuid.UUID) -> str:
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign(message_uuid.hex)


def unsubscribe_token_read(token: str) -> uuid.UUID | None:
    """The message UUID a token was made for, or None when it was tampered with."""
    try:
        value = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign(token)
        return uuid.UUID(hex=value)
    except (signing.BadSignature, ValueError):
        return None
