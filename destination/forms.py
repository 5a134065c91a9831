"""Forms of the shared core. Every problem is reported on its field, never as a server error;
emails and phones are validated and normalised by ``destination.normalize``, like every other
place that stores them."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from destination.languages import guest_language_choices
from destination.models import Channel, ConsentWording, Purpose
from destination.normalize import (
    normalize_email,
    normalize_phone_for_country,
    validate_birth_date,
    validate_language,
)
from destination.services.consent import consent_scope_errors
from partners.models import Partner  # layering exception: destination/__init__.py


class GuestForm(forms.Form):
    """A guest's identity, demographics and main contact points, as staff type them at a desk.

    ``cleaned_data["email"]`` is lower-cased and ``cleaned_data["phone"]`` is E.164, read with
    the chosen country (or the destination's default region)."""

    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.CharField(label=_("Email"), max_length=254, required=False)
    country = forms.ChoiceField(label=_("Country"), required=False, choices=())
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    language = forms.ChoiceField(label=_("Language"), required=False, choices=())
    birth_date = forms.DateField(
        label=_("Birth date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        blank = [("", "—")]
        cast(forms.ChoiceField, self.fields["country"]).choices = blank + list(countries)
        # Every language a guest may have, as the identity correction offers it.
        cast(forms.ChoiceField, self.fields["language"]).choices = guest_language_choices(
            self.initial.get("language") or ""
        )

    def clean_email(self) -> str:
        try:
            return normalize_email(self.cleaned_data.get("email"))
        except ValidationError as exc:
            raise ValidationError(exc.messages, code="invalid_email") from None

    def clean_language(self) -> str:
        return validate_language(self.cleaned_data.get("language"))

    def clean_birth_date(self) -> dt.date | None:
        return validate_birth_date(self.cleaned_data.get("birth_date"))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # The phone is read after the country, which tells how to read a national number.
        raw_phone = cleaned.get("phone")
        if raw_phone:
            try:
                cleaned["phone"] = normalize_phone_for_country(raw_phone, cleaned.get("country"))
            except ValidationError as exc:
                self.add_error("phone", ValidationError(exc.messages, code="invalid_phone"))
        if (
            not (cleaned.get("first_name") or "").strip()
            and not (cleaned.get("last_name") or "").strip()
        ):
            self.add_error("last_name", _("Enter a first or a last name."))
        return cleaned

    def guest_data(self) -> dict[str, Any]:
        """The fields ``guest_update`` takes, from a valid form."""
        keys = ("first_name", "last_name", "country", "language", "birth_date")
        return {key: self.cleaned_data[key] for key in keys if key in self.cleaned_data}


class ConsentForm(forms.Form):
    """One consent act: a purpose, its partner and channel when the purpose needs them, granted
    or withdrawn, and the wording that was shown. Scope problems land on their field, with the
    same rules as ``consent_record``."""

    purpose = forms.ChoiceField(label=_("Purpose"), choices=Purpose.choices)
    partner = forms.ModelChoiceField(
        label=_("Partner"), queryset=Partner.objects.none(), required=False
    )
    channel = forms.ChoiceField(
        label=_("Channel"), choices=[("", "—"), *Channel.choices[1:]], required=False
    )
    granted = forms.BooleanField(label=_("Consent given"), required=False)
    wording = forms.ModelChoiceField(
        label=_("Wording shown"), queryset=ConsentWording.objects.none(), required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField[Any], self.fields["partner"]).queryset = Partner.objects.filter(
            is_active=True
        ).order_by("name")
        cast(
            forms.ModelChoiceField[Any], self.fields["wording"]
        ).queryset = ConsentWording.objects.order_by("purpose", "language", "-created_at")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        purpose = cleaned.get("purpose")
        if not purpose:
            return cleaned
        partner = cleaned.get("partner")
        channel = cleaned.get("channel") or ""
        errors = consent_scope_errors(
            purpose=purpose,
            granted=bool(cleaned.get("granted")),
            partners=[partner] if partner else [],
            channels=[channel] if channel else [],
            wording=cleaned.get("wording"),
        )
        for field, message in errors.items():
            self.add_error(field, message)
        return cleaned
