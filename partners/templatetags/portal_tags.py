"""Template helpers of the partner portal."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import HttpRequest

from partners.portal.nav import nav_items

register = template.Library()


@register.simple_tag(takes_context=True)
def portal_nav(context: template.Context) -> list[dict[str, Any]]:
    """The main navigation entries for this request (see ``partners.portal.nav``)."""
    request: HttpRequest | None = context.get("request")
    return nav_items(request) if request is not None else []


@register.filter
def initials(name: str) -> str:
    """ "Jeanne Martin" -> "JM", for the avatar circle."""
    parts = [p for p in (name or "").split() if p]
    return "".join(p[0] for p in parts[:2]).upper() or "?"


@register.filter
def language_label(code: str) -> str:
    """ "fr" -> "French" in the reader's language; an unknown code is shown as typed."""
    from django.utils.translation import get_language_info
    from django.utils.translation import gettext as _

    if not code:
        return ""
    try:
        return _(get_language_info(code)["name"])
    except KeyError:
        return code.upper()
