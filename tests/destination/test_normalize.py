"""The validators of destination.normalize, and that creating and editing a guest share them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from destination.forms import GuestForm
from destination.models import Guest
from destination.normalize import (
    PhoneEvidence,
    normalize_phone_for_country,
    phone_read,
    region_for_email,
    region_for_language,
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


# --- phone_read: the best evidence of a phone's country (issue 14) --------------------------


@pytest.mark.parametrize(
    ("raw", "evidence", "value", "kwargs"),
    [
        # Its own country code wins over everything else.
        ("+32 470 12 34 56", "international", "+32470123456", {"country": "FR"}),
        ("0032 470 12 34 56", "international", "+32470123456", {}),
        # The person's (or the row's) country.
        ("079 123 45 67", "country", "+41791234567", {"country": "CH", "email": "a@b.be"}),
        # A phone the candidate guest already has, read the same way in its region.
        ("0470 12 34 56", "known_phone", "+32470123456", {"known_phones": ["+32470123456"]}),
        # Another number of the one country the guest's phones are from.
        ("0471 99 88 77", "known_phone", "+32471998877", {"known_phones": ["+32470123456"]}),
        # The email's country domain, second-level ones included.
        ("0470 12 34 56", "email_domain", "+32470123456", {"email": "an@skynet.be"}),
        ("07911 123456", "email_domain", "+447911123456", {"email": "jo@mail.co.uk"}),
        ("20 12 34 56", "email_domain", "+4520123456", {"email": "mette@jubii.dk"}),
        ("347 123 4567", "email_domain", "+393471234567", {"email": "g@libero.it"}),
        # The language's region: a tag's region, or a language spoken mostly in one country.
        ("20 12 34 56", "language", "+4520123456", {"language": "da"}),
        ("079 123 45 67", "language", "+41791234567", {"language": "de-CH"}),
        # The destination's region is only for forms, and only when no country was given.
        ("06 12 34 56 78", "default", "+33612345678", {"default_region": "FR"}),
        # Nothing says: kept as typed (its digits), never guessed.
        ("06 12 34 56 78", "as_typed", "0612345678", {"email": "x@gmail.com"}),
        # A country that does not read it: kept as typed, the destination's region no stand-in.
        ("0470 12 34 56 7", "as_typed", "04701234567", {"country": "FR", "default_region": "FR"}),
    ],
)
def test_phone_read_uses_the_best_evidence(raw, evidence, value, kwargs):
    reading = phone_read(raw, **kwargs)
    assert (reading.evidence, reading.value) == (evidence, value)
    assert reading.as_typed == (evidence == PhoneEvidence.AS_TYPED)


def test_phone_read_evidence_comes_in_order():
    # The country before the email's domain, the email's domain before the language.
    assert phone_read("0470 12 34 56", country="BE", email="a@b.it").evidence == "country"
    assert phone_read("347 123 4567", email="a@b.it", language="da").evidence == "email_domain"
    # A known phone before the email's domain: the guest's own number, read as it is stored.
    reading = phone_read("0470 12 34 56", email="a@b.nl", known_phones=["+32470123456"])
    assert reading.evidence == "known_phone"
    # Evidence that cannot read the number says nothing: the next one is asked.
    assert phone_read("0470 12 34 56", email="a@b.dk", language="nl-be").evidence == "language"


@pytest.mark.parametrize("raw", ["12", "zzz", "06 12 34 56 78 ext. 2", "+33 6 12", "1" * 16])
def test_phone_read_refuses_what_is_no_phone_number(raw):
    with pytest.raises(ValidationError) as exc:
        phone_read(raw, country="FR")
    assert exc.value.code == "invalid_phone"


def test_phone_read_blank_is_none_and_forms_never_keep_as_typed():
    assert phone_read("  ") is None
    # normalize_phone (forms) reads with the destination's region when no country is given,
    # and refuses a number its country does not read rather than keep it as typed.
    assert normalize_phone_for_country("06 12 34 56 78", "") == "+33612345678"
    with pytest.raises(ValidationError):
        normalize_phone_for_country("0470 12 34 56 7", "CH")


def test_regions_of_emails_and_languages():
    assert region_for_email("a@b.co.uk") == "GB"
    assert region_for_email("a@gmail.com") == ""
    assert region_for_email("") == ""
    assert region_for_language("pt_BR") == "BR"
    assert region_for_language("sv") == "SE"
    assert region_for_language("xx") == ""
