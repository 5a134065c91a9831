"""Campaigns: a newsletter + a segment + a sender; the test send, approval, the snapshot in SQL,
never twice, pause and resume, the schedule's tick, the progress in one GROUP BY query."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from destination.errors import PermissionRefused
from newsletters import campaign_services as cs
from newsletters.models import Campaign, Message, Segment
from partners.models import Membership, Partner
from tests.factories import PartnerFactory, UserFactory
from tests.newsletters.campaign_helpers import newsletter_site
from tests.newsletters.helpers import grant, guest_make
from tests.queries import capture_queries

pytestmark = pytest.mark.django_db

EVERYONE = {"all": []}


@pytest.fixture
def ns():
    return newsletter_site()


def _campaign(ns, *, rules=None, partner=None, **kwargs) -> Campaign:
    segment = Segment.objects.create(name="All", rules=rules or EVERYONE, partner=partner)
    return Campaign.objects.create(
        name="December", page=ns.page, segment=segment, sender_partner=partner, **kwargs
    )


def _ready(campaign: Campaign) -> Campaign:
    return cs.campaign_submit(campaign=campaign, actor=None)


def test_an_editor_sends_a_test_to_themselves_which_never_counts_toward_the_cap(ns):
    editor = UserFactory(email="editor@example.org", first_name="Eve")
    with pytest.raises(Exception):  # noqa: B017 - an account without email has nowhere to go
        cs.newsletter_test_send(page=ns.page, user=UserFactory(email=""))
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        message, created = cs.newsletter_test_send(page=ns.page, user=editor)
    assert created and message.source == "test" and message.kind == "transactional"
    again, created_again = cs.newsletter_test_send(page=ns.page, user=editor)
    assert again.pk == message.pk and not created_again
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["editor@example.org"] and email.subject == "Snow is here"
    html = email.alternatives[0][0]
    assert "Hello Eve," in email.body and "Story 0" in html
    assert "/t/c/" not in html  # a test is not tracked
    assert "List-Unsubscribe" not in email.extra_headers


def test_a_send_snapshots_the_segment_in_each_language_and_rechecks_consent(ns, settings):
    settings.ROOT_URLCONF = "tests.newsletters.tracking_urls"
    anne = guest_make(language="fr", first_name="Anne", email="anne@example.org")
    bob = guest_make(language="de", first_name="Bob", email="bob@example.org")
    cleo = guest_make(language="en", first_name="Cléo", email="cleo@example.org")
    for g in (anne, bob, cleo):
        grant(g)
    campaign = _ready(_campaign(ns, rules={"rule": "language", "in": ["fr", "de", "en"]}))
    # Cléo withdraws between the snapshot and the send: re-checked at send time.
    from destination.models import ConsentState

    with pytest.MonkeyPatch.context() as mp:
        real = cs.campaign_dispatch

        def withdraw_then_dispatch(*, campaign_id):
            ConsentState.objects.filter(guest=cleo).update(granted=False)
            return real(campaign_id=campaign_id)

        mp.setattr(cs, "campaign_dispatch", withdraw_then_dispatch)
        from django.test import TestCase

        with TestCase.captureOnCommitCallbacks(execute=True):
            cs.campaign_send_now(campaign=campaign, actor=None)
    rows = {m.guest_id: m for m in Message.objects.filter(source="campaign")}
    assert set(rows) == {anne.pk, bob.pk, cleo.pk}
    assert rows[anne.pk].dedupe_key == f"campaign:{campaign.pk}:guest:{anne.pk}"
    assert rows[anne.pk].language == "fr" and rows[bob.pk].language == "en"  # de: default
    assert rows[cleo.pk].status == "skipped" and rows[cleo.pk].skip_reason == "no_consent"
    by_to = {e.to[0]: e for e in mail.outbox}
    assert set(by_to) == {"anne@example.org", "bob@example.org"}
    assert by_to["anne@example.org"].subject == "La neige est là"
    assert by_to["bob@example.org"].subject == "Snow is here"
    assert "Bonjour Anne," in by_to["anne@example.org"].body
    assert "List-Unsubscribe" in by_to["anne@example.org"].extra_headers
    html = by_to["anne@example.org"].alternatives[0][0]
    assert "/t/c/" in html and "https://plan.example/" not in html  # tracked
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DONE and campaign.recipients_count == 3
    assert set(campaign.revisions) == {"en", "fr"}


def test_a_double_click_on_send_sends_once(ns):
    guest = guest_make(email="g@example.org")
    grant(guest)
    campaign = _ready(_campaign(ns))
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        cs.campaign_send_now(campaign=campaign, actor=None)
    with TestCase.captureOnCommitCallbacks(execute=True):
        cs.campaign_send_now(campaign=Campaign.objects.get(pk=campaign.pk), actor=None)
    # Even a second snapshot (a retried start) inserts nothing.
    campaign.refresh_from_db()
    assert cs.recipients_snapshot(campaign=campaign, now=timezone.now()) == 0
    assert Message.objects.filter(source="campaign").count() == 1
    assert len(mail.outbox) == 1


def test_a_partner_campaign_needs_the_tourist_office_and_reaches_only_its_consenting_guests(ns):
    school = PartnerFactory(kind=Partner.Kind.SKI_SCHOOL)
    office = PartnerFactory(kind=Partner.Kind.TOURIST_OFFICE)
    yes = guest_make(email="yes@example.org")
    no = guest_make(email="no@example.org")
    grant(yes, purpose="partner_offers", partner=school)
    grant(no)  # the destination's newsletter only
    campaign = cs.campaign_submit(campaign=_campaign(ns, partner=school), actor=None)
    assert campaign.status == Campaign.Status.PENDING_APPROVAL
    with pytest.raises(cs.CampaignError):
        cs.campaign_send_now(campaign=campaign, actor=None)
    outsider = UserFactory()
    Membership.objects.create(user=outsider, partner=school)
    with pytest.raises(PermissionRefused):
        cs.campaign_approve(campaign=campaign, actor=outsider)
    steward = UserFactory()
    Membership.objects.create(user=steward, partner=office)
    campaign = cs.campaign_approve(campaign=campaign, actor=steward)
    assert campaign.status == Campaign.Status.READY and campaign.approved_by == steward
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        cs.campaign_send_now(campaign=campaign, actor=None)
    message = Message.objects.get(source="campaign")
    assert message.guest_id == yes.pk and message.partner_id == school.pk
    assert message.purpose == "partner_offers" and message.status == "sent"
    assert [e.to for e in mail.outbox] == [["yes@example.org"]]


def test_pause_holds_the_rest_and_resume_finishes_it_once(ns):
    guests = [guest_make(email=f"p{n}@example.org") for n in range(4)]
    for g in guests:
        grant(g)
    campaign = _ready(_campaign(ns))
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=False):  # the batches have not run yet
        cs.campaign_send_now(campaign=campaign, actor=None)
    first = Message.objects.filter(source="campaign").order_by("pk").first()
    from newsletters.fastsend import messages_send_fast

    messages_send_fast(message_ids=[first.pk])  # one went out before the pause
    cs.campaign_pause(campaign=campaign, actor=None)
    assert cs.campaign_dispatch(campaign_id=campaign.pk) == 0  # held: not due
    from newsletters.services import messages_dispatch

    assert messages_dispatch()["dispatched"] == 0  # nor does the pipeline's tick take them
    assert (
        cs.campaign_send_batch(
            campaign_id=campaign.pk, message_ids=list(Message.objects.values_list("pk", flat=True))
        )
        == {}
    )
    progress = cs.campaign_progress(campaign)
    assert progress["by_status"]["sent"] == 1 and progress["held"] == 3
    assert len(mail.outbox) == 1
    with TestCase.captureOnCommitCallbacks(execute=True):
        cs.campaign_resume(campaign=campaign, actor=None)
    with TestCase.captureOnCommitCallbacks(execute=True):
        cs.campaign_resume(campaign=Campaign.objects.get(pk=campaign.pk), actor=None)
    assert sorted(e.to[0] for e in mail.outbox) == sorted(f"p{n}@example.org" for n in range(4))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DONE


def test_a_scheduled_campaign_starts_on_the_tick_once_due(ns):
    grant(guest_make(email="s@example.org"))
    campaign = _ready(_campaign(ns))
    at = timezone.now() + dt.timedelta(hours=2)
    cs.campaign_schedule(campaign=campaign, at=at, actor=None)
    assert cs.campaigns_start_due(now=timezone.now()) == 0
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        assert cs.campaigns_start_due(now=at + dt.timedelta(seconds=1)) == 1
    assert cs.campaigns_start_due(now=at + dt.timedelta(seconds=2)) == 0
    assert len(mail.outbox) == 1


def test_the_progress_is_one_group_by_query_with_the_reasons(ns):
    for n in range(3):
        grant(guest_make(email=f"q{n}@example.org"))
    guest_make(email="nope@example.org")  # no consent: skipped at send
    campaign = _ready(_campaign(ns))
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        cs.campaign_send_now(campaign=campaign, actor=None)
    with capture_queries() as queries:
        progress = cs.campaign_progress(campaign)
    assert len(queries) == 1, queries
    assert progress["total"] == 4 and progress["by_status"]["sent"] == 3
    assert progress["skipped"] == [
        {"reason": "no_consent", "label": "No marketing consent at send time", "count": 1}
    ]
    assert progress["percent_done"] == 100


def test_a_segment_rejects_invalid_rules_and_a_partner_cannot_use_anothers_segment(ns):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        Segment(name="Bad", rules={"rule": "nope"}).full_clean()
    school, other = PartnerFactory(), PartnerFactory()
    segment = Segment.objects.create(name="Theirs", rules=EVERYONE, partner=other)
    with pytest.raises(ValidationError):
        Campaign(name="x", page=ns.page, segment=segment, sender_partner=school).full_clean()


def test_the_admin_counts_a_segment_live_and_says_unavailable_rather_than_zero(
    admin_client, monkeypatch
):
    grant(guest_make(email="live@example.org"))
    url = "/cms/newsletters/segment-size/"
    assert admin_client.get(url, {"rules": '{"all": []}'}).json()["count"] == 1
    assert "errors" in admin_client.get(url, {"rules": '{"rule": "nope"}'}).json()
    assert "errors" in admin_client.get(url, {"rules": "{not json"}).json()
    from newsletters import wagtail_hooks

    monkeypatch.setattr(wagtail_hooks, "segment_count", lambda *a, **k: None)  # timed out
    data = admin_client.get(url, {"rules": '{"all": []}'}).json()
    assert data["count"] is None and data["unavailable"] is True


def test_the_report_page_sends_once_on_a_double_click_and_shows_progress(ns, admin_client):
    grant(guest_make(email="click@example.org"))
    campaign = _ready(_campaign(ns))
    from django.test import TestCase

    send = f"/cms/newsletters/campaigns/{campaign.pk}/send/"
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert admin_client.post(send).status_code == 302
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert admin_client.post(send).status_code == 302
    assert len(mail.outbox) == 1
    report = admin_client.get(f"/cms/newsletters/campaigns/{campaign.pk}/report/")
    assert report.status_code == 200 and b"campaign_progress.js" in report.content
    from pathlib import Path

    import newsletters

    template = (
        Path(newsletters.__file__).parent / "templates/newsletters/admin/campaign_report.html"
    )
    assert "<script>" not in template.read_text()  # no inline script of ours (CSP with nonces)
    progress = admin_client.get(f"/cms/newsletters/campaigns/{campaign.pk}/progress/").json()
    assert progress["by_status"]["sent"] == 1 and progress["campaign_status"] == "done"
