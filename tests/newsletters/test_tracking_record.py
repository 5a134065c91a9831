"""The tracking pipeline wired end to end: the project's pixel and redirector with the real
recorder (``newsletters.tracking_record``), the privacy rule on opens, the settle pass and real
contact, the segment of human clickers, GDPR, and tracked links in sent marketing email."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from destination import registry
from destination.models import ConsentProof, TimelineEvent
from destination.services.consent import consent_record
from newsletters import rendering, tracking_record
from newsletters.models import TrackingCount, TrackingHit
from newsletters.services import message_enqueue, messages_dispatch
from newsletters.tasks import tracking_hits_settle_task
from newsletters.tracking import click_url, open_pixel_url
from newsletters.tracking_record import (
    ip_truncate,
    tracking_hits_erase,
    tracking_hits_export,
    tracking_hits_settle,
)
from tests.factories import ConsentWordingFactory
from tests.newsletters.helpers import grant, guest_make
from tests.newsletters.tracking_helpers import CHROME, campaign_make, hit_make, message_make
from tests.queries import assert_num_queries

pytestmark = pytest.mark.django_db

BASE = "https://mail.val-neige.example"
PAGE = "https://www.val-neige.example/offres/"


@pytest.fixture(autouse=True)
def _tracking_base(settings):
    settings.NEWSLETTER_TRACKING_BASE_URL = BASE
    settings.NEWSLETTER_TRACKING_SETTLE_SECONDS = 10


@pytest.fixture
def client() -> Client:
    return Client(HTTP_USER_AGENT=CHROME, REMOTE_ADDR="198.51.100.77")


@pytest.fixture
def campaign():
    return campaign_make()


@pytest.fixture
def sent(campaign):
    """A campaign message sent ten minutes ago to a guest without profiling consent."""
    guest = guest_make()
    return message_make(guest, campaign, sent_at=timezone.now() - dt.timedelta(minutes=10))


def _path(url: str) -> str:
    assert url.startswith(BASE)
    return url[len(BASE) :]


def _grant_profiling(guest) -> None:
    consent_record(
        guest=guest,
        purpose="profiling",
        granted=True,
        method=ConsentProof.Method.FORM,
        wording=ConsentWordingFactory(purpose="profiling"),
    )


# --- Recording --------------------------------------------------------------------------------


def test_ip_truncate_keeps_the_network_only():
    assert ip_truncate("198.51.100.77") == "198.51.100.0"
    assert ip_truncate("2001:db8:1234:5678::1") == "2001:db8:1234::"
    assert ip_truncate("::ffff:203.0.113.9") == "203.0.113.0"
    assert ip_truncate("not an address") is None
    assert ip_truncate(None) is None


def test_a_click_is_kept_raw_and_touches_nothing_yet(client, sent, campaign):
    response = client.get(_path(click_url(sent.uuid.hex, 2, PAGE)))
    assert response.status_code == 302
    assert response["Location"] == PAGE
    [hit] = TrackingHit.objects.all()
    assert (hit.message, hit.campaign, hit.kind, hit.link_index, hit.url) == (
        sent,
        campaign,
        "click",
        2,
        PAGE,
    )
    assert (hit.verdict, hit.reason, hit.settled) == ("human", "no_machine_signal", False)
    assert hit.ip == "198.51.100.0"
    assert hit.user_agent == CHROME
    sent.guest.refresh_from_db()
    assert sent.guest.last_contact_at is None  # only the settle pass makes it contact
    assert not TimelineEvent.objects.filter(data__click="human").exists()


def test_a_head_is_recorded_as_a_machine(client, sent):
    assert client.head(_path(click_url(sent.uuid.hex, 1, PAGE))).status_code == 302
    hit = TrackingHit.objects.get()
    assert (hit.verdict, hit.reason, hit.method) == ("machine", "not_get", "HEAD")


def test_an_open_without_profiling_consent_is_only_counted(client, sent, campaign):
    for _ in range(2):
        assert client.get(_path(open_pixel_url(sent.uuid.hex))).status_code == 200
    assert not TrackingHit.objects.exists()
    count = TrackingCount.objects.get()
    assert (count.scope, count.campaign, count.kind, count.verdict, count.reason) == (
        f"campaign:{campaign.pk}",
        campaign,
        "open",
        "human",
        "no_machine_signal",
    )
    assert count.count == 2


def test_an_open_with_profiling_consent_is_kept_per_guest(client, sent):
    _grant_profiling(sent.guest)
    client.get(_path(open_pixel_url(sent.uuid.hex)))
    hit = TrackingHit.objects.get()
    assert (hit.kind, hit.verdict, hit.link_index, hit.settled) == ("open", "human", None, True)
    assert not TrackingCount.objects.exists()
    sent.guest.refresh_from_db()
    assert sent.guest.last_contact_at is None  # an open is never contact


def test_an_apple_prefetch_is_counted_as_a_machine(sent):
    Client(HTTP_USER_AGENT="Mozilla/5.0", REMOTE_ADDR="17.58.1.2").get(
        _path(open_pixel_url(sent.uuid.hex))
    )
    count = TrackingCount.objects.get()
    assert (count.verdict, count.reason) == ("machine", "apple_privacy_prefetch")


def test_recording_costs_a_few_queries(client, sent):
    """Click: the message, its recent clicks, the insert (and once per process and campaign, a
    check that the campaign exists). Open: the same, plus the one consent query, and the count's
    UPDATE (then its INSERT the first time)."""
    client.get(_path(click_url(sent.uuid.hex, 1, PAGE)))
    with assert_num_queries(3):
        client.get(_path(click_url(sent.uuid.hex, 1, PAGE)))
    client.get(_path(open_pixel_url(sent.uuid.hex)))
    with assert_num_queries(4):
        client.get(_path(open_pixel_url(sent.uuid.hex)))


def test_a_signed_token_for_an_unknown_message_redirects_and_records_nothing(client):
    response = client.get(_path(click_url("0" * 32, 1, PAGE)))
    assert response.status_code == 302
    assert client.get(_path(open_pixel_url("not-a-uuid"))).status_code == 200
    assert not TrackingHit.objects.exists()
    assert not TrackingCount.objects.exists()


@pytest.mark.parametrize(
    "token",
    ["junk", "a" * 5000, "%00%00", "%C3%28", "eyJtIjoiMSJ9:abc", "..%2F..%2Fetc"],
)
def test_junk_tokens_are_never_a_500(client, token):
    click = client.get(f"/t/c/{token}/")
    assert click.status_code in (400, 404)
    assert "Location" not in click
    pixel = client.get(f"/t/o/{token}.gif")
    assert pixel.status_code in (200, 400, 404)
    assert not TrackingHit.objects.exists()


def test_the_routes_have_no_language_prefix(sent, client):
    response = client.get(_path(open_pixel_url(sent.uuid.hex)), HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"


# --- The settle pass --------------------------------------------------------------------------


def test_a_gateway_burst_never_touches_contact(client, sent):
    """The first two links of a burst look human live; the settle pass sees the third."""
    for n in (1, 2, 3):
        client.get(_path(click_url(sent.uuid.hex, n, f"{PAGE}{n}")))
    live = list(TrackingHit.objects.values_list("verdict", flat=True))
    assert live[:2] == ["human", "human"]
    later = timezone.now() + dt.timedelta(seconds=30)
    result = tracking_hits_settle(now=later)
    assert result == {"messages": 1, "hits": 3, "human": 0, "touched": 0}
    assert set(TrackingHit.objects.values_list("verdict", "reason", "settled")) == {
        ("machine", "link_burst", True)
    }
    sent.guest.refresh_from_db()
    assert sent.guest.last_contact_at is None
    assert not TimelineEvent.objects.filter(data__click="human").exists()


def test_a_human_click_touches_contact_once(client, sent, campaign):
    client.get(_path(click_url(sent.uuid.hex, 2, PAGE)))
    hit = TrackingHit.objects.get()
    # Not yet: the burst window is still open.
    assert tracking_hits_settle(now=hit.at + dt.timedelta(seconds=3))["hits"] == 0
    later = hit.at + dt.timedelta(seconds=30)
    assert tracking_hits_settle(now=later) == {"messages": 1, "hits": 1, "human": 1, "touched": 1}
    sent.guest.refresh_from_db()
    assert sent.guest.last_contact_at == hit.at
    [entry] = TimelineEvent.objects.filter(guest=sent.guest, data__click="human")
    assert entry.data["campaign"] == campaign.pk
    assert entry.data["links"] == [2]
    assert entry.kind == TimelineEvent.Kind.MESSAGE
    assert entry.occurred_at == hit.at
    # Re-running (a second tick, a redelivered task) writes nothing more.
    assert tracking_hits_settle(now=later)["hits"] == 0
    assert tracking_hits_settle_task.run()["hits"] == 0
    assert TimelineEvent.objects.filter(guest=sent.guest, data__click="human").count() == 1


def test_a_real_link_fetched_before_the_trap_is_a_machine_once_settled(client, sent):
    scanner = Client(HTTP_USER_AGENT=CHROME, REMOTE_ADDR="192.0.2.10")
    scanner.get(_path(click_url(sent.uuid.hex, 1, PAGE)))
    assert TrackingHit.objects.get().verdict == "human"  # live: nothing says machine yet
    scanner.get(_path(click_url(sent.uuid.hex, 0, "https://www.val-neige.example/")))
    tracking_hits_settle(now=timezone.now() + dt.timedelta(minutes=1))
    verdicts = dict(TrackingHit.objects.values_list("link_index", "reason"))
    assert verdicts == {1: "trap_fetcher", 0: "trap_link"}
    sent.guest.refresh_from_db()
    assert sent.guest.last_contact_at is None


def test_settling_moves_contact_forward_only(sent):
    guest = sent.guest
    recent = timezone.now()
    guest.last_contact_at = recent
    guest.save(update_fields=["last_contact_at"])
    hit_make(sent, at=recent - dt.timedelta(days=2), settled=False)
    tracking_hits_settle(now=recent)
    guest.refresh_from_db()
    assert guest.last_contact_at == recent


# --- GDPR ---------------------------------------------------------------------------------


def test_export_and_erasure_of_hits(sent):
    hit_make(sent, link_index=3, url=PAGE)
    [row] = tracking_hits_export(sent.guest)
    assert (row["kind"], row["link"], row["url"], row["verdict"]) == ("click", 3, PAGE, "human")
    assert tracking_hits_erase([sent.guest.pk]) == {"tracking_hits": 1}
    hit = TrackingHit.objects.get()
    assert (hit.ip, hit.user_agent, hit.verdict) == (None, "", "human")


def test_hits_are_part_of_the_guests_export_and_erasure(sent):
    assert registry.guest_exporters()["email_tracking"] is tracking_record.tracking_hits_export
    assert tracking_record.tracking_hits_erase in registry.guest_erasers()


# --- Tracked links in sent email --------------------------------------------------------------


def test_marketing_email_is_sent_with_tracked_links_and_transactional_is_not(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.NEWSLETTER_EMAIL_BACKEND = ""
    guest = guest_make(language="en")
    grant(guest)
    context = {"first_name": "Anne", "title": "Snow", "body": "Come", "url": PAGE}
    for kind, key in (("marketing", "m"), ("transactional", "t")):
        extra = {"purpose": "newsletter"} if kind == "marketing" else {}
        message_enqueue(
            source="test",
            kind=kind,
            dedupe_key=f"tracked:{key}",
            guest=guest,
            address="anne@example.org",
            language="en",
            template="announcement",
            context=context,
            **extra,
        )
    messages_dispatch()
    by_kind = {
        "marketing" if "List-Unsubscribe" in m.extra_headers else "transactional": m
        for m in mail.outbox
    }
    assert len(by_kind) == 2
    marketing = by_kind["marketing"].alternatives[0].content
    transactional = by_kind["transactional"].alternatives[0].content
    assert f"{BASE}/t/c/" in marketing
    assert f"{BASE}/t/o/" in marketing
    assert "/newsletters/unsubscribe/" in marketing  # never wrapped
    assert "/t/c/" not in transactional
    assert "/t/o/" not in transactional


def test_the_project_mounts_the_redirector():
    assert rendering.click_route_wired()


def test_staff_read_the_raw_hits_in_the_admin(client, sent):
    from tests.factories import UserFactory

    hit_make(sent, link_index=4, url=PAGE)
    TrackingCount.objects.create(scope="campaign:1", kind="open", verdict="human", reason="x")
    admin = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(admin)
    assert client.get("/django-admin/newsletters/trackinghit/").status_code == 200
    assert client.get("/django-admin/newsletters/trackingcount/").status_code == 200
    hit = TrackingHit.objects.get()
    page = client.get(f"/django-admin/newsletters/trackinghit/{hit.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content  # read only
