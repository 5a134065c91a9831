"""The validators of destination.normalize, and that creating and editing a guest share them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from destination.forms import GuestForm
from destination.models import Guest
from destination.normalize import (
    normalize_phone_for_country,
    validate_birth_date,
    validate_language,
)
from destination.services.guests import guest_update
from destination.services.resolution import Decision, PersonData, guest_resolve, person_validate
from tests.factories import GuestFactory


@pytest.mark.parametrize(
    ("raw", "expected"), [("fr", "fr"), (" DE-ch ", "de-ch"), ("pt_BR", "pt-br"), ("", "")]
)
def test_validate_language_accepts_known_codes(raw, expected):
    assert validate_language(raw) == expected


@pytest.mark.parametrize("raw", ["xx", "english", "f", "fr-"])
def test_validate_language_refuses_unknown_codes(raw):
    with pytest.raises(ValidationError) as exc:
        validate_language(raw)
    assert exc.value.code == "invalid_language"


def test_validate_birth_date():
    today = timezone.localdate()
    assert validate_birth_date("1980-05-17") == dt.date(1980, 5, 17)
    assert validate_birth_date(dt.datetime(1980, 5, 17, 12, 0)) == dt.date(1980, 5, 17)
    assert validate_birth_date(None) is None
    assert validate_birth_date("") is None
    for value, code in (
        (today + dt.timedelta(days=1), "future"),
        (dt.date(1899, 12, 31), "too_old"),
        ("17/05/1980", "invalid"),
    ):
        with pytest.raises(ValidationError) as exc:
            validate_birth_date(value)
        assert exc.value.code == code


def test_the_phone_is_read_after_the_country():
    assert normalize_phone_for_country("06 12 34 56 78", "FR") == "+33612345678"
    assert normalize_phone_for_country("079 123 45 67", "ch") == "+41791234567"
    assert normalize_phone_for_country("+33612345678", "") == "+33612345678"
    with pytest.raises(ValidationError):
        normalize_phone_for_country("12", "FR")


def test_create_and_edit_refuse_the_same_language_code(db):
    _clean, errors = person_validate(PersonData(last_name="Martin", language="xx"))
    assert errors["language"] == ["“xx” is not a known language code."]
    assert guest_resolve(
        PersonData(last_name="Martin", language="xx"), source=Guest.Source.API
    ).decision == (Decision.REJECTED)
    guest = GuestFactory(language="fr")
    with pytest.raises(ValidationError) as exc:
        guest_update(guest=guest, data={"language": "xx"}, actor=None, partner=None)
    assert exc.value.message_dict["language"] == ["“xx” is not a known language code."]
    guest.refresh_from_db()
    assert guest.language == "fr"


def test_create_edit_and_the_form_give_one_birth_date_message(db):
    future = timezone.localdate() + dt.timedelta(days=3)
    _clean, errors = person_validate(PersonData(last_name="Martin", birth_date=future))
    with pytest.raises(ValidationError) as exc:
        guest_update(guest=GuestFactory(), data={"birth_date": future}, actor=None, partner=None)
    form = GuestForm({"last_name": "Martin", "birth_date": future.isoformat()})
    assert not form.is_valid()
    expected = ["A birth date cannot be in the future."]
    assert errors["birth_date"] == exc.value.message_dict["birth_date"] == expected
    assert form.errors["birth_date"] == expected


def test_the_form_and_resolution_read_the_phone_after_the_country(db):
    form = GuestForm({"last_name": "Martin", "country": "CH", "phone": "079 123 45 67"})
    assert form.is_valid(), form.errors
    clean, errors = person_validate(
        PersonData(last_name="Martin", country="CH", phone="079 123 45 67")
    )
    assert not errors
    assert form.cleaned_data["phone"] == clean.phones[0] == "+41791234567"
