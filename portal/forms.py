"""Forms of the partner portal. Problems are reported on their field."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from destination.models import Guest, Tag, TimelineEvent, Visibility
from partners.models import Interaction, Section


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
        cast(forms.ChoiceField, self.fields["kind"]).choices = [
            ("", _("All kinds")),
            *TimelineEvent.Kind.choices,
        ]
        cast(forms.ChoiceField, self.fields["partner"]).choices = [
            ("", _("All partners")),
            *partners,
        ]


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


class IdentityForm(forms.Form):
    """Names, country, language, birth date and interests, as staff correct them at the desk.
    Only the parts of the profile the acting partner may see are offered: a partner cannot
    overwrite what it is not shown (``sections``)."""

    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    country = forms.ChoiceField(label=_("Country"), required=False, choices=())
    language = forms.ChoiceField(label=_("Language"), required=False, choices=())
    birth_date = forms.DateField(
        label=_("Birth date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    interests: forms.ModelMultipleChoiceField[Tag] = forms.ModelMultipleChoiceField(
        label=_("Interests"),
        queryset=None,
        to_field_name="slug",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    # Which section of the profile each field belongs to.
    SECTIONS = {
        "first_name": Section.IDENTITY,
        "last_name": Section.IDENTITY,
        "country": Section.DEMOGRAPHICS,
        "language": Section.DEMOGRAPHICS,
        "birth_date": Section.BIRTH_DATE,
        "interests": Section.INTERESTS,
    }

    def __init__(self, *args: Any, sections: frozenset[str] | set[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, section in self.SECTIONS.items():
            if section not in sections:
                del self.fields[name]
        if "country" in self.fields:
            cast(forms.ChoiceField, self.fields["country"]).choices = [("", "—"), *countries]
        if "language" in self.fields:
            cast(forms.ChoiceField, self.fields["language"]).choices = [
                ("", "—"),
                *settings.LANGUAGES,
            ]
        if "interests" in self.fields:
            cast(
                forms.ModelChoiceField[Any], self.fields["interests"]
            ).queryset = Tag.objects.filter(category=Tag.Category.INTEREST).order_by("name")

    @classmethod
    def initial_for(cls, guest: Guest) -> dict[str, Any]:
        return {
            "first_name": guest.first_name,
            "last_name": guest.last_name,
            "country": str(guest.country),  # a Country: its str is the code, "" when blank
            "language": guest.language,
            "birth_date": guest.birth_date,
            "interests": [t.slug for t in guest.tags.filter(category=Tag.Category.INTEREST)],
        }
