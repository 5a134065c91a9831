"""Forms of the partners app."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from destination.models import Visibility
from destination.services.guests import CLOCK_SKEW
from partners.models import Interaction


class InteractionForm(forms.Form):
    """A partner's staff logs an interaction; ``partners.services.interaction_log`` takes
    ``cleaned_data`` as keyword arguments, with the guest, partner and staff added."""

    kind = forms.ChoiceField(label=_("Kind"), choices=Interaction.Kind.choices)
    channel = forms.ChoiceField(label=_("Channel"), choices=Interaction.Channel.choices)
    summary = forms.CharField(
        label=_("Summary"), max_length=4000, widget=forms.Textarea(attrs={"rows": 4})
    )
    occurred_at = forms.DateTimeField(
        label=_("When"),
        required=False,
        help_text=_("Leave empty for now."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    visibility = forms.ChoiceField(
        label=_("Visible to"),
        choices=Visibility.choices,
        initial=Visibility.SHARED,
        required=False,
        help_text=_(
            "Private notes are never shown to other partners, the tourist office included."
        ),
    )

    def clean_summary(self) -> str:
        value = (self.cleaned_data.get("summary") or "").strip()
        if not value:
            raise ValidationError(_("Write what happened."), code="required")
        return value

    def clean_occurred_at(self) -> datetime | None:
        value = self.cleaned_data.get("occurred_at")
        if value is not None and value > timezone.now() + CLOCK_SKEW:
            raise ValidationError(_("An interaction cannot be in the future."), code="future")
        return value

    def clean_visibility(self) -> str:
        # An unchecked or absent choice means the default, shared: never an error.
        return self.cleaned_data.get("visibility") or Visibility.SHARED

    def interaction_data(self) -> dict[str, Any]:
        """Keyword arguments for ``interaction_log`` from a valid form."""
        return {
            "kind": self.cleaned_data["kind"],
            "channel": self.cleaned_data["channel"],
            "summary": self.cleaned_data["summary"],
            "occurred_at": self.cleaned_data.get("occurred_at"),
            "visibility": self.cleaned_data["visibility"],
        }
