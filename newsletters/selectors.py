"""Reads of the newsletters app."""

from __future__ import annotations

from django.db.models import QuerySet

from newsletters.models import Message
from newsletters.tokens import unsubscribe_token_read


def message_get_by_token(*, token: str) -> Message | None:
    """The message an unsubscribe token was made for, or None (tampered, or unknown)."""
    message_uuid = unsubscribe_token_read(token)
    if message_uuid is None:
        return None
    return Message.objects.select_related("partner").filter(uuid=message_uuid).first()


def messages_in_doubt() -> QuerySet[Message]:
    """Messages a person must resolve: claimed, never answered."""
    return Message.objects.filter(status=Message.Status.IN_DOUBT).order_by("claimed_at", "id")
