"""Template helpers of the portal's guest pages."""

from __future__ import annotations

from django import template
from django.utils.translation import get_language_info
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def language_label(code: str) -> str:
    """ "fr" -> "French" in the reader's language; an unknown code is shown as typed."""
    if not code:
        return ""
    try:
        return _(get_language_info(code)["name"])
    except KeyError:
        return code.upper()
