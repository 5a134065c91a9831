"""Message and Suppression constraints, each tested both ways: ``full_clean`` and the database."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from newsletters.models import Message, Suppression
from tests.factories import GuestFactory, PartnerFactory

pytestmark = pytest.mark.django_db


def _message(**overrides) -> Message:
    values = {
        "source": Message.Source.TEST,
        "kind": Message.Kind.TRANSACTIONAL,
        "dedupe_key": "test:1",
        "address": "anne@mail.example",
        "language": "fr",
        "template": "test",
    }
    values.update(overrides)
    return Message(**values)


def _refused(message: Message, constraint: str) -> None:
    with pytest.raises(ValidationError) as caught:
        message.full_clean()
    assert constraint in str(caught.value), caught.value
    with pytest.raises(IntegrityError), transaction.atomic():
        message.save()


def test_a_transactional_message_without_scope_is_valid():
    message = _message()
    message.full_clean()
    message.save()
    assert message.status == Message.Status.QUEUED


def test_one_dedupe_key_is_one_row():
    _message().save()
    _refused(_message(), "Deduplication key already exists")


def test_the_dedupe_key_is_required():
    _refused(_message(dedupe_key=""), "dedupe")


def test_marketing_needs_a_guest_and_a_purpose():
    guest = GuestFactory()
    _message(kind=Message.Kind.MARKETING, guest=guest, purpose="newsletter").full_clean()
    _refused(_message(kind=Message.Kind.MARKETING, purpose="newsletter"), "consent_scope")
    _refused(_message(kind=Message.Kind.MARKETING, guest=guest), "consent_scope")


def test_partner_offers_need_their_partner_and_the_newsletter_none():
    guest = GuestFactory()
    partner = PartnerFactory()
    ok = _message(kind="marketing", guest=guest, purpose="partner_offers", partner=partner)
    ok.full_clean()
    _refused(
        _message(kind="marketing", guest=guest, purpose="partner_offers", dedupe_key="a"),
        "consent_scope",
    )
    _refused(
        _message(
            kind="marketing", guest=guest, purpose="newsletter", partner=partner, dedupe_key="b"
        ),
        "consent_scope",
    )


def test_transactional_mail_carries_no_marketing_purpose():
    _refused(_message(purpose="newsletter", guest=GuestFactory()), "consent_scope")


def test_skipped_iff_a_skip_reason():
    _message(status="skipped", skip_reason="suppressed").full_clean()
    _refused(_message(status="skipped"), "skip_reason")
    _refused(_message(status="sent", skip_reason="suppressed"), "skip_reason")


def test_sent_needs_its_time():
    _refused(_message(status="sent"), "sent_at")


def test_one_provider_event_suppresses_once_but_blank_ids_repeat():
    Suppression.objects.create(address="a@x.example", reason="manual")
    Suppression.objects.create(address="a@x.example", reason="manual")
    Suppression.objects.create(address="a@x.example", reason="bounce", provider_event_id="ev1")
    duplicate = Suppression(address="b@x.example", reason="bounce", provider_event_id="ev1")
    with pytest.raises(ValidationError):
        duplicate.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


def test_a_suppression_needs_an_address():
    empty = Suppression(address="", reason="manual")
    with pytest.raises(ValidationError):
        empty.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        empty.save()
