"""The languages a guest may have, as every form of the product offers them (the desk's "New
guest", the identity correction): one list, so no form can offer fewer than another and blank a
guest's language on save."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.conf.locale import LANG_INFO
from django.utils.translation import get_language_info, gettext_lazy
from django.utils.translation import gettext as _

# The languages of the destination's main markets, offered first in a guest's language choice
# (after the portal's own). Any other language the core's validator accepts (every language
# Django knows, ``LANG_INFO``) follows, so a guest's stored language is always among the choices.
MAIN_GUEST_LANGUAGES = ("de", "es", "it", "nl")


def language_label(code: str) -> str:
    """ "fr" -> "French" in the reader's language; an unknown code is shown as typed."""
    if not code:
        return ""
    try:
        return _(get_language_info(code)["name"])
    except KeyError:
        return code.upper()


def guest_language_choices(current: str = "") -> list[Any]:
    """Every language a guest may have, grouped: the portal's and the main markets' first, then
    the others by name in the reader's language. ``current`` (the guest's stored code) is kept
    even when Django does not know it, so saving the form never blanks it."""
    first = [code for code, _name in settings.LANGUAGES]
    first += [code for code in MAIN_GUEST_LANGUAGES if code not in first]
    others = sorted(
        (code for code, info in LANG_INFO.items() if "name" in info and code not in first),
        key=lambda code: language_label(code).casefold(),
    )
    choices: list[Any] = [
        ("", "—"),
        (gettext_lazy("Main languages"), [(code, language_label(code)) for code in first]),
        (gettext_lazy("Other languages"), [(code, language_label(code)) for code in others]),
    ]
    if current and current not in first and current not in others:
        choices.append((current, language_label(current)))
    return choices
