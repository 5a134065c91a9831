"""Forms of the partner portal. Problems are reported on their field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from destination.forms import ConsentForm
from destination.models import PARTNER_PURPOSES, Guest, Purpose, Tag, TimelineEvent, Visibility
from destination.services.consent import consent_desk_scope_errors, consent_scope_errors
from partners.models import Interaction, Partner, Section


class ProofForm(forms.Form):
    """Before a partner that does not know a guest yet logs an interaction: the agent types the
    guest's email or phone, as the guest gives it at the desk; a match is the proof."""

    contact = forms.CharField(
        label=_("The guest's email or phone"),
        max_length=254,
        help_text=_("Ask the guest; it must match one already on the profile."),
    )


class DeskConsentForm(ConsentForm):
    """The desk's consent form, within what the desk may record
    (``consent_desk_scope_errors``): a partner only its own partner-scoped consents (the
    partner is itself, not a choice); the tourist office every purpose, with the partners the
    guest names."""

    def __init__(self, *args: Any, recording_partner: Partner, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recording_partner = recording_partner
        if recording_partner.is_steward:
            del self.fields["partner"]
            self.fields["partners"] = forms.ModelMultipleChoiceField(
                label=_("Partners the guest names"),
                queryset=Partner.objects.filter(is_active=True).order_by("name"),
                required=False,
                widget=forms.CheckboxSelectMultiple,
            )
            self.order_fields(["purpose", "partners", "channel", "granted", "wording"])
        else:
            self.fields["purpose"].choices = [
                (value, label) for value, label in Purpose.choices if value in PARTNER_PURPOSES
            ]
            self.fields["partner"].queryset = Partner.objects.filter(pk=recording_partner.pk)
            self.fields["partner"].initial = recording_partner.pk
            self.fields["partner"].required = True
            self.fields["partner"].empty_label = None

    def scope_partners(self) -> list[Partner]:
        """The partners of the consent's scope (after ``is_valid``)."""
        if "partners" in self.fields:
            return list(self.cleaned_data.get("partners") or [])
        partner = self.cleaned_data.get("partner")
        return [partner] if partner else []

    def clean(self) -> dict[str, Any]:
        if "partner" in self.fields:
            cleaned = super().clean()
        else:
            # The parent's checks read one partner; the tourist office names several.
            cleaned = forms.Form.clean(self) or {}
            purpose = cleaned.get("purpose")
            if purpose:
                channel = cleaned.get("channel") or ""
                errors = consent_scope_errors(
                    purpose=purpose,
                    granted=bool(cleaned.get("granted")),
                    partners=list(cleaned.get("partners") or []),
                    channels=[channel] if channel else [],
                    wording=cleaned.get("wording"),
                )
                for field, message in errors.items():
                    self.add_error("partners" if field == "partner" else field, message)
        purpose = cleaned.get("purpose")
        if purpose and not self.errors:
            errors = consent_desk_scope_errors(
                recording_partner=self.recording_partner,
                purpose=purpose,
                partners=self.scope_partners(),
            )
            for field, message in errors.items():
                self.add_error(field, message)
        return cleaned


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
    interests = forms.ModelMultipleChoiceField(
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
            self.fields["country"].choices = [("", "—"), *countries]
        if "language" in self.fields:
            self.fields["language"].choices = [("", "—"), *settings.LANGUAGES]
        if "interests" in self.fields:
            self.fields["interests"].queryset = Tag.objects.filter(
                category=Tag.Category.INTEREST
            ).order_by("name")

    @classmethod
    def initial_for(cls, guest: Guest) -> dict[str, Any]:
        return {
            "first_name": guest.first_name,
            "last_name": guest.last_name,
            "country": guest.country.code if guest.country else "",
            "language": guest.language,
            "birth_date": guest.birth_date,
            "interests": [t.slug for t in guest.tags.filter(category=Tag.Category.INTEREST)],
        }
