"""Template helpers of the staff shell (``portal/base.html``): its navigation and avatars. The
guest pages' own helpers are in ``portal.templatetags.portal_guest_tags``."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import HttpRequest

from partners.nav import nav_items

register = template.Library()


@register.simple_tag(takes_context=True)
def portal_nav(context: template.Context) -> list[dict[str, Any]]:
    """The main navigation entries for this request (see ``partners.nav``)."""
    request: HttpRequest | None = context.get("request")
    return nav_items(request) if request is not None else []


@register.filter
def initials(name: str) -> str:
    """ "Jeanne Martin" -> "JM", for the avatar circle."""
    parts = [p for p in (name or "").split() if p]
    return "".join(p[0] for p in parts[:2]).upper() or "?"
