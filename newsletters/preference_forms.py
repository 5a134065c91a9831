"""The preference centre's form: one checkbox per scope the page offers, and the language."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from newsletters.preferences import Preferences


class PreferencesForm(forms.Form):
    """Built from what ``preferences_read`` found. A scope that cannot be turned on here (no
    current wording for it, or an inactive partner) is shown disabled while it is off: a
    disabled field keeps its initial value whatever is posted."""

    newsletter = forms.BooleanField(required=False)
    language = forms.ChoiceField(label=_("Language of our emails"), choices=settings.LANGUAGES)

    def __init__(self, *args: Any, preferences: Preferences, brand_name: str, **kwargs: Any):
        kwargs.setdefault(
            "initial",
            {
                "newsletter": preferences.newsletter,
                "language": preferences.language
                if preferences.language in dict(settings.LANGUAGES)
                else settings.LANGUAGE_CODE,
                **{f"partner_{c.partner.pk}": c.granted for c in preferences.partners},
            },
        )
        super().__init__(*args, **kwargs)
        self.preferences = preferences
        field = self.fields["newsletter"]
        field.label = _(
            "The %(brand)s newsletter: stories, events and offers of the destination"
        ) % {"brand": brand_name}
        if not preferences.newsletter and preferences.newsletter_wording is None:
            field.disabled = True
        self.partner_fields: list[str] = []
        for choice in preferences.partners:
            name = f"partner_{choice.partner.pk}"
            self.fields[name] = forms.BooleanField(
                required=False,
                label=_("Offers from %(partner)s") % {"partner": choice.partner.name},
                disabled=not choice.granted
                and (preferences.offers_wording is None or not choice.partner.is_active),
            )
            self.partner_fields.append(name)

    def partner_offers(self) -> dict[int, bool]:
        return {
            choice.partner.pk: bool(self.cleaned_data.get(f"partner_{choice.partner.pk}"))
            for choice in self.preferences.partners
        }

    def partner_bound_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.partner_fields]
