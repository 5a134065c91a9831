"""The newsletter signup form (the footer, the signup block and the signup page: one form).

Moved from ``content.forms``; the interests are the site's themes (``content.models.Theme``)."""

from __future__ import annotations

import re
from typing import Any, cast

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from content.models import Theme
from destination.models import ConsentWording, Purpose

# Line breaks and other control characters have no business in a one-line field: in an address
# they are the tool of header injection.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class NewsletterSignupForm(forms.Form):
    """The footer form and the signup block: one form, one view. ``website`` is a honeypot,
    hidden from people (CSS and aria-hidden): a bot that fills it gets an error, nothing kept."""

    email = forms.EmailField(
        label=_("Email address"),
        max_length=254,
        widget=forms.EmailInput(
            attrs={"autocomplete": "email", "placeholder": _("you@example.com")}
        ),
    )
    language = forms.ChoiceField(
        label=_("Newsletter language"), choices=settings.LANGUAGES, initial=settings.LANGUAGE_CODE
    )
    interests = forms.MultipleChoiceField(
        label=_("Your interests"),
        choices=Theme.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    wording = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    page = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    website = forms.CharField(
        label=pgettext_lazy("honeypot", "Leave this field empty"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def clean_email(self) -> str:
        raw = self.data.get(self.add_prefix("email"), "")
        if isinstance(raw, str) and _CONTROL.search(raw):
            raise forms.ValidationError(_("Enter a valid email address."), code="invalid")
        return str(self.cleaned_data["email"])

    def clean_website(self) -> str:
        value = str(self.cleaned_data.get("website") or "")
        if value:
            raise forms.ValidationError(
                _("This field must stay empty: are you a robot?"), code="honeypot"
            )
        return value

    def clean_wording(self) -> ConsentWording:
        wording = ConsentWording.objects.filter(
            pk=self.cleaned_data["wording"], purpose=Purpose.NEWSLETTER
        ).first()
        if wording is None:
            raise forms.ValidationError(
                _("The newsletter wording changed. Please submit the form again."), code="wording"
            )
        return wording

    def clean(self) -> dict[str, Any]:
        cleaned = cast(dict[str, Any], super().clean())  # Form.clean returns cleaned_data
        for value in self.data.values():
            if isinstance(value, str) and len(value) > 2000:
                self.add_error(None, _("The form contains a value that is far too long."))
                break
        return cleaned
