"""The campaign sender's fast path: the same email as the pipeline's, byte-built once per
language; set-based claim with every send-time check; one SMTP session; batch marks."""

from __future__ import annotations

import email
import email.policy

import pytest
from django.core.mail.backends.smtp import EmailBackend
from django.test import TestCase

from destination.models import ConsentState, TimelineEvent
from newsletters import campaign_services as cs
from newsletters.booking_emails import CONSUMER
from newsletters.fastsend import message_bytes, messages_send_fast
from newsletters.models import Campaign, Message, Segment
from newsletters.outbox import booking_events_consume
from newsletters.services import message_render, messages_claim, suppression_add
from tests.factories import PartnerFactory, book, offer_make, person, session_make
from tests.newsletters.campaign_helpers import newsletter_site
from tests.newsletters.helpers import grant, guest_make

pytestmark = pytest.mark.django_db

SENT: list[tuple[str, list[str], bytes]] = []


class _FakeSMTP:
    def sendmail(self, sender, recipients, data):
        SENT.append((sender, recipients, data))
        return {}

    def quit(self):
        pass

    def close(self):
        pass


class RecordingSMTPBackend(EmailBackend):
    """Django's SMTP backend with its session replaced by a recorder (no network)."""

    def open(self):
        if self.connection is None:
            self.connection = _FakeSMTP()
        return True

    def close(self):
        self.connection = None


@pytest.fixture
def smtp(settings):
    SENT.clear()
    settings.NEWSLETTER_EMAIL_BACKEND = (
        "tests.newsletters.test_campaigns_fastsend.RecordingSMTPBackend"
    )
    return SENT


def _started_campaign(guests) -> Campaign:
    ns = newsletter_site()
    segment = Segment.objects.create(name="All", rules={"all": []})
    campaign = Campaign.objects.create(name="C", page=ns.page, segment=segment)
    cs.campaign_submit(campaign=campaign, actor=None)
    with TestCase.captureOnCommitCallbacks(execute=False):
        cs.campaign_send_now(campaign=campaign, actor=None)
    return campaign


def test_fast_email_decodes_to_the_pipelines_email(smtp, settings):
    settings.ROOT_URLCONF = "tests.newsletters.tracking_urls"  # with tracked links
    anne = guest_make(language="fr", first_name="Anne <&> Ünïcode", email="anne@example.org")
    grant(anne)
    _started_campaign([anne])
    message = Message.objects.get(guest=anne)
    [claimed] = messages_claim(message_ids=[message.pk], now=message.due_at)
    data, subject = message_bytes(claimed)
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    _compiled, expected = message_render(claimed)
    assert subject == expected.subject == "La neige est là"
    assert parsed["Subject"] == expected.subject
    assert parsed["To"] == "anne@example.org"
    assert parsed["Message-ID"] == claimed.message_id
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/newsletters/unsubscribe/" in parsed["List-Unsubscribe"]
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    assert text.replace("\r\n", "\n") == expected.text
    assert html.replace("\r\n", "\n") == expected.html.replace("\r\n", "\n")
    assert "Anne &lt;&amp;&gt; Ünïcode" in html
    assert "/t/c/" in html and "/t/o/" in html
    for part in parsed.walk():
        assert part["Content-Transfer-Encoding"] in (None, "quoted-printable")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998


def test_a_batch_claims_checks_sends_once_and_marks_with_timeline_entries(smtp):
    ok = [guest_make(email=f"ok{n}@example.org") for n in range(3)]
    gone = guest_make(email="gone@example.org")
    withdrawn = guest_make(email="withdrawn@example.org")
    for g in (*ok, gone, withdrawn):
        grant(g)
    campaign = _started_campaign(None)
    suppression_add(address="GONE@example.org", reason="bounce")
    ConsentState.objects.filter(guest=withdrawn).update(granted=False)
    ids = list(Message.objects.filter(source="campaign").values_list("pk", flat=True))
    counts = messages_send_fast(message_ids=ids)
    assert counts == {"sent": 3}
    assert sorted(r[1][0] for r in smtp) == sorted(f"ok{n}@example.org" for n in range(3))
    rows = {m.address: m for m in Message.objects.filter(source="campaign")}
    assert rows["gone@example.org"].skip_reason == "suppressed"
    assert rows["withdrawn@example.org"].skip_reason == "no_consent"
    assert all(rows[f"ok{n}@example.org"].status == "sent" for n in range(3))
    assert TimelineEvent.objects.filter(kind=TimelineEvent.Kind.MESSAGE).count() == 3
    # Again (a redelivered task): nothing is claimed, nothing more is sent.
    assert messages_send_fast(message_ids=ids) == {}
    assert len(smtp) == 3
    cs.campaign_finish_check(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DONE


def test_the_frequency_cap_holds_in_a_batch(smtp, settings):
    settings.NEWSLETTER_FREQUENCY_CAP = 0
    grant(guest_make(email="cap@example.org"))
    _started_campaign(None)
    ids = list(Message.objects.values_list("pk", flat=True))
    assert messages_send_fast(message_ids=ids) == {}
    assert Message.objects.get().skip_reason == "frequency_cap"
    assert smtp == []


def test_a_batch_runs_each_sources_sent_hook_like_the_pipeline(smtp, settings):
    """A booking email sent by the fast path gets the booking's own timeline entry and its
    sent flag (the SENT hook), not the generic one: the marks are the pipeline's."""
    settings.STRIPE_SECRET_KEY = ""  # pay on site
    session = session_make(offer_make(PartnerFactory(name="École de Ski Test")))
    with TestCase.captureOnCommitCallbacks(execute=False):
        booking = book(session, language="en", booker=person(language="en"))
        booking_events_consume(consumer=CONSUMER)
    message = Message.objects.get(source=Message.Source.BOOKING)
    assert message.status == Message.Status.QUEUED
    grant(guest_make(email="reader@example.org"))
    _started_campaign(None)
    ids = list(Message.objects.values_list("pk", flat=True))
    assert messages_send_fast(message_ids=ids) == {"sent": 2}
    assert sorted(r[1][0] for r in smtp) == sorted([booking.contact_email, "reader@example.org"])
    booking.refresh_from_db()
    assert booking.confirmation_sent_at is not None
    entries = TimelineEvent.objects.filter(kind=TimelineEvent.Kind.MESSAGE)
    booker_entry = entries.get(guest_id=booking.booker_id)
    assert booking.reference in booker_entry.title
    assert booker_entry.data["reference"] == booking.reference
    reader_entry = entries.exclude(guest_id=booking.booker_id).get()
    assert reader_entry.title.startswith("Email sent: ")
