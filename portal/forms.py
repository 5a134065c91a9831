"""Forms of the partner portal. Problems are reported on their field."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from destination.forms import ConsentForm
from destination.languages import guest_language_choices
from destination.models import PARTNER_PURPOSES, Guest, Purpose, Tag, TimelineEvent, Visibility
from destination.services.consent import consent_desk_scope_errors, consent_scope_errors
from partners.models import Interaction, Partner, Section
from portal.stored_text import tag_name


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
            cast(forms.ChoiceField, self.fields["purpose"]).choices = [
                (value, label) for value, label in Purpose.choices if value in PARTNER_PURPOSES
            ]
            partner_field = cast(forms.ModelChoiceField[Partner], self.fields["partner"])
            partner_field.queryset = Partner.objects.filter(pk=recording_partner.pk)
            partner_field.initial = recording_partner.pk
            partner_field.required = True
            partner_field.empty_label = None

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
        # Its own ids: the interaction form on the same page has a "kind" too (id_kind).
        kwargs.setdefault("auto_id", "id_filter_%s")
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


class InterestsField(forms.ModelMultipleChoiceField[Tag]):
    """Interest tags, each named in the reader's language where the catalogue knows it."""

    def label_from_instance(self, obj: Tag) -> str:
        return tag_name(obj.name)


class IdentityForm(forms.Form):
    """Names, country, language, birth date and interests, as staff correct them at the desk.
    Only the parts of the profile the acting partner may see are offered: a partner cannot
    overwrite what it is not shown (``sections``). Each field carries the value it was shown
    with (``show_hidden_initial``), so ``changed_data`` names exactly the fields the staff
    member touched: only those are saved."""

    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    country = forms.ChoiceField(label=_("Country"), required=False, choices=())
    language = forms.ChoiceField(label=_("Language"), required=False, choices=())
    birth_date = forms.DateField(
        label=_("Birth date"),
        required=False,
        # ISO whatever the reader's language: a date input shows nothing for "02/05/1990".
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    interests = InterestsField(
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
            cast(forms.ChoiceField, self.fields["language"]).choices = guest_language_choices(
                self.initial.get("language") or self.data.get("initial-language") or ""
            )
        if "interests" in self.fields:
            cast(
                forms.ModelChoiceField[Any], self.fields["interests"]
            ).queryset = Tag.objects.filter(category=Tag.Category.INTEREST).order_by("name")
        for field in self.fields.values():
            field.show_hidden_initial = True

    @property
    def touched(self) -> dict[str, Any]:
        """The cleaned values of the fields the staff member changed, and only those."""
        return {name: self.cleaned_data[name] for name in self.changed_data}

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
