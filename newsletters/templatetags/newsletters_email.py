"""Tags of the email templates: values fixed by settings, known at compile time."""

from __future__ import annotations

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def signup_confirm_days() -> int:
    """How many days a signup's confirmation link works (``NEWSLETTER_CONFIRM_DAYS``)."""
    return int(getattr(settings, "NEWSLETTER_CONFIRM_DAYS", 3))
