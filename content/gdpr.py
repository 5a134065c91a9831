"""The content app's part of the GDPR export and erasure: its own table of newsletter signups
(``NewsletterSignup``; the signup logic itself lives in ``newsletters.signup``)."""

from __future__ import annotations

from typing import Any

from content.models import NewsletterSignup
from destination.models import Guest


def newsletter_signups_export(guest: Guest) -> list[dict[str, Any]]:
    return [
        {
            "email": s.email,
            "language": s.language,
            "interests": s.interests,
            "status": s.status,
            "page_url": s.page_url,
            "ip_address": s.ip_address,
            "user_agent": s.user_agent,
            "wording": s.wording_id,
            "signed_up_at": s.created_at.isoformat(),
            "confirmed_at": s.confirmed_at.isoformat() if s.confirmed_at else None,
        }
        for s in NewsletterSignup.objects.filter(guest=guest).order_by("pk")
    ]


def newsletter_signups_erase(guest_ids: list[int]) -> dict[str, int]:
    deleted, _rows = NewsletterSignup.objects.filter(guest_id__in=guest_ids).delete()
    return {"content.NewsletterSignup": deleted}
