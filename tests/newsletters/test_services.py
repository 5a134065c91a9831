"""The pipeline: enqueue once, claim once, check at send time, send after commit, mark."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from destination.models import ConsentProof, Destination, Guest, TimelineEvent
from destination.services.consent import consent_record
from newsletters.models import Message
from newsletters.services import (
    MessageError,
    message_enqueue,
    message_in_doubt_resolve,
    message_send,
    messages_dispatch,
    suppression_add,
)
from tests.factories import PartnerFactory, UserFactory
from tests.newsletters import backends
from tests.newsletters.helpers import grant, guest_make

pytestmark = pytest.mark.django_db

NEWS = {"title": "Winter is here", "body": "Fresh snow.", "url": "https://val.example/news"}


def transactional(guest: Guest | None = None, *, key: str = "test:1", **kw) -> Message:
    message, _created = message_enqueue(
        source="test",
        kind="transactional",
        dedupe_key=key,
        address=kw.pop("address", guest.emails.first().email if guest else "x@mail.example"),
        language=kw.pop("language", "en"),
        template="test",
        context={"first_name": "Anne"},
        guest=guest,
        **kw,
    )
    return message


def marketing(guest: Guest, *, key: str = "campaign:1:guest:1", partner=None) -> Message:
    message, _created = message_enqueue(
        source="campaign",
        kind="marketing",
        dedupe_key=key,
        address=guest.emails.first().email,
        language=guest.language,
        template="announcement",
        context={**NEWS, "first_name": guest.first_name},
        guest=guest,
        purpose="partner_offers" if partner else "newsletter",
        partner=partner,
    )
    return message


@pytest.fixture
def failing(settings):
    settings.NEWSLETTER_EMAIL_BACKEND = "tests.newsletters.backends.FailingBackend"
    backends.FailingBackend.errors = []
    backends.FailingBackend.open_errors = []
    yield backends.FailingBackend
    backends.FailingBackend.errors = []
    backends.FailingBackend.open_errors = []


def test_a_transactional_email_is_sent_after_commit_and_written_on_the_timeline(
    django_capture_on_commit_callbacks,
):
    guest = guest_make(language="en")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = transactional(guest)
        assert mail.outbox == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert message.attempts == 1
    assert message.sent_at is not None
    [email] = mail.outbox
    assert email.to == [guest.emails.first().email]
    assert email.subject == "A test email from Live United"
    assert "Hello Anne," in email.body
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html" and "Hello Anne," in html
    assert email.extra_headers["Message-ID"] == message.message_id
    assert "List-Unsubscribe" not in email.extra_headers  # transactional
    entry = TimelineEvent.objects.get(guest=guest, kind=TimelineEvent.Kind.MESSAGE)
    assert entry.data["message"] == message.pk
    assert "A test email" in entry.title


def test_the_same_email_asked_twice_is_one_row_and_one_send(django_capture_on_commit_callbacks):
    guest = guest_make()
    with django_capture_on_commit_callbacks(execute=True):
        first = transactional(guest, key="booking:VN-1:confirmation")
    with django_capture_on_commit_callbacks(execute=True):
        again = transactional(guest, key="booking:VN-1:confirmation")
    assert again.pk == first.pk
    assert Message.objects.count() == 1
    assert len(mail.outbox) == 1
    # A retried or duplicated task finds the row sent and sends nothing.
    assert message_send(message_id=first.pk) == Message.Status.SENT
    assert len(mail.outbox) == 1


def test_context_values_must_be_json_scalars_and_the_template_must_exist():
    with pytest.raises(MessageError):
        message_enqueue(
            source="test", kind="transactional", dedupe_key="k", address="a@b.example",
            language="en", template="test", context={"first_name": {"nested": 1}},
        )  # fmt: skip
    with pytest.raises(MessageError):
        message_enqueue(
            source="test", kind="transactional", dedupe_key="k", address="a@b.example",
            language="en", template="no_such_email", context={},
        )  # fmt: skip
    assert not Message.objects.exists()


def test_a_suppressed_address_gets_nothing_even_transactional(django_capture_on_commit_callbacks):
    guest = guest_make(email="Bounced@Mail.example")
    suppression_add(address="bounced@mail.example", reason="bounce", provider_event_id="ev-1")
    _again, created = suppression_add(
        address="bounced@mail.example", reason="bounce", provider_event_id="ev-1"
    )
    assert not created
    with django_capture_on_commit_callbacks(execute=True):
        message = transactional(guest)
    message.refresh_from_db()
    assert message.status == Message.Status.SKIPPED
    assert message.skip_reason == Message.SkipReason.SUPPRESSED
    assert mail.outbox == []


def test_an_undeliverable_address_or_an_erased_guest_is_skipped(
    django_capture_on_commit_callbacks,
):
    guest = guest_make()
    Guest.objects.filter(pk=guest.pk).update(status=Guest.Status.ERASED)
    with django_capture_on_commit_callbacks(execute=True):
        erased = transactional(guest, key="a")
        nowhere = transactional(None, key="b", address="not-an-address")
    erased.refresh_from_db()
    nowhere.refresh_from_db()
    assert erased.skip_reason == Message.SkipReason.GUEST_INACTIVE
    assert nowhere.skip_reason == Message.SkipReason.UNDELIVERABLE
    assert mail.outbox == []


def test_marketing_needs_the_consent_at_send_time(django_capture_on_commit_callbacks):
    guest = guest_make(language="en")
    grant(guest)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = marketing(guest)
    # Withdrawn between the enqueue and the send (an hour ago, say): nothing goes out.
    consent_record(
        guest=guest, purpose="newsletter", granted=False, method=ConsentProof.Method.FORM,
        channels=["email"], wording=None,
    )  # fmt: skip
    for callback in callbacks:
        callback()
    message.refresh_from_db()
    assert message.status == Message.Status.SKIPPED
    assert message.skip_reason == Message.SkipReason.NO_CONSENT
    assert mail.outbox == []


def test_partner_offers_need_that_partners_consent(django_capture_on_commit_callbacks):
    guest = guest_make(language="en")
    school, rental = PartnerFactory(), PartnerFactory()
    grant(guest, purpose="partner_offers", partner=school)
    with django_capture_on_commit_callbacks(execute=True):
        ok = marketing(guest, key="a", partner=school)
        refused = marketing(guest, key="b", partner=rental)
    ok.refresh_from_db()
    refused.refresh_from_db()
    assert ok.status == Message.Status.SENT
    assert refused.skip_reason == Message.SkipReason.NO_CONSENT
    [email] = mail.outbox
    assert email.extra_headers["List-Id"] == (
        f'"{school.name}" <partner-{school.pk}.offers.lists.destination.example>'
    )


def test_marketing_carries_one_click_unsubscribe_and_a_list_id(
    settings, django_capture_on_commit_callbacks
):
    settings.NEWSLETTER_SITE_URL = "https://www.val.example"
    settings.NEWSLETTER_UNSUBSCRIBE_MAILTO = "unsubscribe@val.example"
    guest = guest_make(language="fr")
    grant(guest)
    with django_capture_on_commit_callbacks(execute=True):
        message = marketing(guest)
    [email] = mail.outbox
    headers = email.extra_headers
    https, mailto = headers["List-Unsubscribe"].split(", ")
    assert https.startswith("<https://www.val.example/newsletters/unsubscribe/")
    assert message.uuid.hex in https  # opaque: a random id and its signature
    assert mailto.startswith("<mailto:unsubscribe@val.example?subject=unsubscribe%20")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["List-Id"] == '"Live United" <newsletter.lists.destination.example>'
    html = email.alternatives[0][0]
    assert https[1:-1] in html and "Se désabonner" in html  # visible link, guest's language
    assert "Se désabonner : " in email.body or "Se désabonner: " in email.body


def test_the_frequency_cap_skips_the_fourth_marketing_email_in_a_week(
    settings, django_capture_on_commit_callbacks
):
    settings.NEWSLETTER_FREQUENCY_CAP = 3
    guest = guest_make(language="en")
    school = PartnerFactory()
    grant(guest)
    grant(guest, purpose="partner_offers", partner=school)
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            marketing(guest, key=f"m{n}", partner=school if n == 1 else None)
        transactional(guest, key="booking:1:confirmation")  # never counted, never capped
        fourth = marketing(guest, key="m4", partner=school)
    fourth.refresh_from_db()
    assert fourth.status == Message.Status.SKIPPED
    assert fourth.skip_reason == Message.SkipReason.FREQUENCY_CAP
    assert len(mail.outbox) == 4
    # Eight days later the window has moved on.
    Message.objects.filter(kind="marketing").update(claimed_at=timezone.now() - timedelta(days=8))
    with django_capture_on_commit_callbacks(execute=True):
        fifth = marketing(guest, key="m5")
    fifth.refresh_from_db()
    assert fifth.status == Message.Status.SENT


def test_marketing_waits_for_the_end_of_quiet_hours_transactional_does_not(
    settings, django_capture_on_commit_callbacks
):
    zone = ZoneInfo(Destination.load().timezone)
    hour = timezone.now().astimezone(zone).hour
    settings.NEWSLETTER_QUIET_HOURS = f"{hour}-{(hour + 1) % 24}"
    guest = guest_make(language="en")
    grant(guest)
    with django_capture_on_commit_callbacks(execute=True):
        waiting = marketing(guest)
        transactional(guest, key="t")
    waiting.refresh_from_db()
    assert waiting.status == Message.Status.QUEUED
    local_due = waiting.due_at.astimezone(zone)
    assert (local_due.hour, local_due.minute) == ((hour + 1) % 24, 0)
    assert waiting.due_at > timezone.now()
    assert len(mail.outbox) == 1  # the transactional one
    # The tick before the end hands nothing out; after it, the message goes.
    assert messages_dispatch()["dispatched"] == 0
    settings.NEWSLETTER_QUIET_HOURS = ""
    messages_dispatch(now=waiting.due_at + timedelta(seconds=1))
    waiting.refresh_from_db()
    assert waiting.status == Message.Status.QUEUED  # the send checks the real clock: not due yet
    Message.objects.filter(pk=waiting.pk).update(due_at=timezone.now())
    messages_dispatch()
    waiting.refresh_from_db()
    assert waiting.status == Message.Status.SENT


def test_a_temporary_refusal_is_retried_later_then_fails(
    settings, failing, django_capture_on_commit_callbacks
):
    settings.NEWSLETTER_MAX_ATTEMPTS = 2
    failing.errors = [backends.temporary(), backends.temporary()]
    with django_capture_on_commit_callbacks(execute=True):
        message = transactional()
    message.refresh_from_db()
    assert message.status == Message.Status.QUEUED
    assert message.attempts == 1
    assert message.due_at > timezone.now() + timedelta(seconds=50)
    assert "451" in message.error
    assert message_send(message_id=message.pk) == Message.Status.QUEUED  # not due yet
    Message.objects.filter(pk=message.pk).update(due_at=timezone.now())
    assert message_send(message_id=message.pk) == Message.Status.FAILED
    message.refresh_from_db()
    assert message.attempts == 2
    assert mail.outbox == []


def test_no_connection_is_retried_and_then_sent(failing, django_capture_on_commit_callbacks):
    failing.open_errors = [ConnectionRefusedError(111, "Connection refused")]
    with django_capture_on_commit_callbacks(execute=True):
        message = transactional()
    message.refresh_from_db()
    assert message.status == Message.Status.QUEUED
    Message.objects.filter(pk=message.pk).update(due_at=timezone.now())
    assert message_send(message_id=message.pk) == Message.Status.SENT
    assert len(mail.outbox) == 1


def test_a_permanent_refusal_fails_at_once(failing, django_capture_on_commit_callbacks):
    failing.errors = [backends.permanent()]
    with django_capture_on_commit_callbacks(execute=True):
        message = transactional()
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.attempts == 1


def test_a_dropped_connection_after_the_data_leaves_the_message_in_doubt(
    failing, django_capture_on_commit_callbacks
):
    failing.errors = [backends.dropped()]
    with django_capture_on_commit_callbacks(execute=True):
        message = transactional()
    message.refresh_from_db()
    assert message.status == Message.Status.IN_DOUBT
    # Never resent by a retry or by the tick.
    assert message_send(message_id=message.pk) == Message.Status.IN_DOUBT
    assert messages_dispatch()["dispatched"] == 0
    assert mail.outbox == []


def test_a_claim_never_answered_becomes_in_doubt_and_a_person_resolves_it(
    settings, django_capture_on_commit_callbacks
):
    settings.NEWSLETTER_SENDING_TIMEOUT_SECONDS = 60
    guest = guest_make()
    with django_capture_on_commit_callbacks(execute=False):
        message = transactional(guest)
    # The worker claimed it, then died before the SMTP answer.
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.SENDING, claimed_at=timezone.now() - timedelta(minutes=5)
    )
    assert messages_dispatch() == {"in_doubt": 1, "dispatched": 0}
    message.refresh_from_db()
    assert message.status == Message.Status.IN_DOUBT
    assert mail.outbox == []
    staff = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        message_in_doubt_resolve(message=message, resend=True, actor=staff)
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert len(mail.outbox) == 1
    with pytest.raises(MessageError):
        message_in_doubt_resolve(message=message, resend=True, actor=staff)


def test_marking_an_in_doubt_message_sent_records_it_without_sending():
    message = transactional(key="x")
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.IN_DOUBT, claimed_at=timezone.now()
    )
    mail.outbox.clear()
    message_in_doubt_resolve(message=message, resend=False, actor=None)
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert message.sent_at == message.claimed_at
    assert mail.outbox == []


def test_the_tick_sends_queued_messages_whose_task_never_ran(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # the on-commit task is lost
        first = transactional(key="a")
        second = transactional(key="b")
    assert messages_dispatch() == {"in_doubt": 0, "dispatched": 2}
    assert {m.status for m in Message.objects.filter(pk__in=[first.pk, second.pk])} == {"sent"}
    assert len(mail.outbox) == 2
    assert messages_dispatch() == {"in_doubt": 0, "dispatched": 0}


def test_the_rate_limit_spreads_sends_over_seconds(settings, django_capture_on_commit_callbacks):
    import time

    settings.NEWSLETTER_RATE_PER_SECOND = 2
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(5):
            transactional(key=f"r{n}")
    assert len(mail.outbox) == 5
    assert time.monotonic() - started >= 1.0  # five sends at two per second span 2+ seconds


def test_the_unsubscribe_header_is_written_plain_on_the_wire(django_capture_on_commit_callbacks):
    import email.policy

    guest = guest_make(language="en")
    grant(guest)
    with django_capture_on_commit_callbacks(execute=True):
        marketing(guest)
    wire = mail.outbox[0].message(policy=email.policy.SMTP).as_bytes()
    assert b"List-Unsubscribe: <http://localhost:8000/newsletters/unsubscribe/" in wire
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in wire
    assert b"=?utf-8?" not in wire.split(b"\r\n\r\n", 1)[0].split(b"Subject:")[0]


def test_erasing_a_guest_anonymises_their_messages_and_stops_queued_ones(
    django_capture_on_commit_callbacks,
):
    from destination.services.gdpr import guest_erase

    guest = guest_make(language="en")
    with django_capture_on_commit_callbacks(execute=True):
        sent = transactional(guest, key="sent")
    with django_capture_on_commit_callbacks(execute=False):
        queued = transactional(guest, key="queued")
    guest_erase(guest=guest, actor=None, reason="GDPR request")
    sent.refresh_from_db()
    queued.refresh_from_db()
    assert (sent.status, sent.address, sent.context, sent.subject) == ("sent", "", {}, "")
    assert queued.status == Message.Status.SKIPPED
    assert queued.skip_reason == Message.SkipReason.GUEST_INACTIVE
    assert message_send(message_id=queued.pk) == Message.Status.SKIPPED
    assert len(mail.outbox) == 1


def test_with_an_anymail_provider_its_own_tracking_is_switched_off(settings):
    """Our pixel and redirector count opens and clicks; the provider is asked not to."""
    settings.NEWSLETTER_EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    guest = guest_make(language="en")
    grant(guest, purpose="newsletter")
    message = marketing(guest)
    message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    params = mail.outbox[-1].anymail_test_params
    assert params["track_opens"] is False and params["track_clicks"] is False


def test_smtp_gets_no_provider_options(settings):
    settings.NEWSLETTER_EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    message = transactional(guest_make(language="en"))
    message_send(message_id=message.pk)
    assert not hasattr(mail.outbox[-1], "track_clicks")


def test_a_provider_that_cannot_switch_tracking_per_message_fails_the_email_for_good(
    settings, failing
):
    from anymail.exceptions import AnymailUnsupportedFeature

    failing.errors = [AnymailUnsupportedFeature("Amazon SES does not support track_clicks")]
    message = transactional(guest_make(language="en"))
    message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED  # permanent: not retried, not in doubt
    assert "track_clicks" in message.error
