"""Template helpers of the portal's guest pages."""

from __future__ import annotations

from django import template

from destination.languages import language_label
from portal.stored_text import tag_name

register = template.Library()


register.filter(language_label)


@register.filter
def tag_label(name: str) -> str:
    """An interest tag's stored name in the reader's language (see ``portal.stored_text``)."""
    return tag_name(name)
