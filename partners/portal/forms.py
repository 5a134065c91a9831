"""Forms of the partner portal. Problems are reported on their field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from destination.models import TimelineEvent, Visibility
from partners.models import Interaction


class InteractionForm(forms.Form):
    """Log an interaction in seconds: what, how, a summary, who may see it (shared by default)."""

    kind = forms.ChoiceField(
        label=_("What"), choices=Interaction.Kind.choices, initial=Interaction.Kind.DESK_VISIT
    )
    channel = forms.ChoiceField(
        label=_("How"), choices=Interaction.Channel.choices, initial=Interaction.Channel.IN_PERSON
    )
    summary = forms.CharField(
        label=_("Summary"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    visibility = forms.ChoiceField(
        label=_("Who can see it"),
        choices=[
            (Visibility.SHARED, _("Shared with the destination")),
            (Visibility.PRIVATE, _("Only my partner")),
        ],
        initial=Visibility.SHARED,
        widget=forms.RadioSelect,
    )

    def clean_summary(self) -> str:
        summary = (self.cleaned_data.get("summary") or "").strip()
        if not summary:
            raise forms.ValidationError(_("Write a short summary."), code="required")
        return summary


class TimelineFilterForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), required=False)
    partner = forms.TypedChoiceField(
        label=_("Partner"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, *args: Any, partners: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", _("All kinds")), *TimelineEvent.Kind.choices]
        self.fields["partner"].choices = [("", _("All partners")), *partners]


class ContactForm(forms.Form):
    """Add an email address or a phone number (read with the guest's country)."""

    email = forms.CharField(label=_("Email"), max_length=254, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    make_primary = forms.BooleanField(label=_("Make it the primary one"), required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not (cleaned.get("email") or "").strip() and not (cleaned.get("phone") or "").strip():
            self.add_error("email", _("Enter an email address or a phone number."))
        return cleaned


class EraseForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=300,
        help_text=_("For example: request by email from the guest on 12 March."),
    )
    confirm = forms.BooleanField(label=_("I understand this cannot be undone."))
