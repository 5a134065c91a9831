"""Forms of the shared core: every problem is a field error, never a server error."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from destination.forms import ConsentForm, GuestForm
from destination.models import Purpose
from tests.factories import ConsentWordingFactory, PartnerFactory

pytestmark = pytest.mark.django_db


def _guest_data(**overrides: str) -> dict[str, str]:
    data = {
        "first_name": "Zoë",
        "last_name": "Martin",
        "email": "",
        "phone": "",
        "country": "FR",
        "language": "fr",
        "birth_date": "",
    }
    return {**data, **overrides}


def test_guest_form_normalises_email_and_phone():
    form = GuestForm(data=_guest_data(email=" Zoe.Martin@Mail.EXAMPLE ", phone="06 12 34 56 78"))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["email"] == "zoe.martin@mail.example"
    assert form.cleaned_data["phone"] == "+33612345678"
    assert form.guest_data() == {
        "first_name": "Zoë",
        "last_name": "Martin",
        "country": "FR",
        "language": "fr",
        "birth_date": None,
    }


def test_guest_form_reads_the_phone_with_the_chosen_country():
    form = GuestForm(data=_guest_data(country="GB", phone="07912 345678"))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["phone"] == "+447912345678"
    # A French national number is not a British one.
    form = GuestForm(data=_guest_data(country="GB", phone="06 12 34 56 78"))
    assert list(form.errors) == ["phone"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@"}, "email"),
        ({"phone": "12"}, "phone"),
        ({"phone": "call me maybe"}, "phone"),
        ({"birth_date": (timezone.localdate() + dt.timedelta(days=30)).isoformat()}, "birth_date"),
        ({"birth_date": "1850-01-01"}, "birth_date"),
        ({"birth_date": "31/31/2000"}, "birth_date"),
        ({"country": "XX"}, "country"),
        ({"language": "tlh"}, "language"),
        ({"first_name": "", "last_name": ""}, "last_name"),
        ({"last_name": "x" * 151}, "last_name"),
    ],
)
def test_guest_form_reports_each_problem_on_its_field(overrides, field):
    form = GuestForm(data=_guest_data(**overrides))
    assert not form.is_valid()
    assert list(form.errors) == [field]


def test_guest_form_accepts_a_past_birth_date_and_no_contact():
    form = GuestForm(data=_guest_data(birth_date="1990-05-17"))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["birth_date"] == dt.date(1990, 5, 17)
    assert form.cleaned_data["email"] == ""
    assert form.cleaned_data["phone"] == ""


# --- ConsentForm ----------------------------------------------------------------------------


def test_consent_form_valid_partner_offer():
    partner = PartnerFactory()
    wording = ConsentWordingFactory(purpose=Purpose.PARTNER_OFFERS)
    form = ConsentForm(
        data={
            "purpose": Purpose.PARTNER_OFFERS,
            "partner": partner.pk,
            "channel": "email",
            "granted": "on",
            "wording": wording.pk,
        }
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["partner"] == partner
    assert form.cleaned_data["granted"] is True


def test_consent_form_withdrawal_needs_no_wording():
    form = ConsentForm(data={"purpose": Purpose.NEWSLETTER, "channel": "sms"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["granted"] is False


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({"purpose": Purpose.PARTNER_OFFERS, "channel": "email", "granted": "on"}, {"partner"}),
        ({"purpose": Purpose.NEWSLETTER, "granted": "on"}, {"channel"}),
        ({"purpose": Purpose.PROFILING, "channel": "sms", "granted": "on"}, {"channel"}),
        ({"purpose": Purpose.NEWSLETTER, "channel": "email", "granted": "on"}, {"wording"}),
        ({"purpose": "telepathy"}, {"purpose"}),
        ({"purpose": Purpose.NEWSLETTER, "channel": "fax"}, {"channel"}),
    ],
)
def test_consent_form_reports_scope_problems_on_their_field(data, fields):
    if "wording" not in fields and data["purpose"] in Purpose.values:
        # Show the right wording so only the problem under test remains.
        data = {**data, "wording": ConsentWordingFactory(purpose=data["purpose"]).pk}
    form = ConsentForm(data=data)
    assert not form.is_valid()
    assert set(form.errors) == fields


def test_consent_form_refuses_a_wording_of_another_purpose_and_a_stray_partner():
    form = ConsentForm(
        data={
            "purpose": Purpose.NEWSLETTER,
            "partner": PartnerFactory().pk,
            "channel": "email",
            "granted": "on",
            "wording": ConsentWordingFactory(purpose=Purpose.PROFILING).pk,
        }
    )
    assert not form.is_valid()
    assert set(form.errors) == {"partner", "wording"}


def test_consent_form_offers_active_partners_only():
    active = PartnerFactory()
    inactive = PartnerFactory(is_active=False)
    choices = set(ConsentForm().fields["partner"].queryset)
    assert active in choices
    assert inactive not in choices


def test_the_new_guest_form_offers_every_language_a_guest_may_have():
    """Not only the portal's en/fr: a Spanish or Portuguese guest typed at the desk keeps it."""
    form = GuestForm()
    codes = [code for _group, options in form.fields["language"].choices[1:] for code, _ in options]
    assert {"en", "fr", "de", "es", "it", "nl", "pt"} <= set(codes)
    for code in ("es", "pt"):
        form = GuestForm(data=_guest_data(language=code))
        assert form.is_valid(), form.errors
        assert form.cleaned_data["language"] == code
