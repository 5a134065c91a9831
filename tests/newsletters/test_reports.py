"""Campaign and journey reports on hand-built data: delivered, human opens and clicks with the
machine events apart, unsubscribes, bounces, complaints, revenue attributed per partner within
the window; a fixed number of queries whatever the number of recipients or steps."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from bookings.models import Booking
from newsletters.models import (
    Enrolment,
    EnrolmentStep,
    Journey,
    JourneyStep,
    Suppression,
    TrackingCount,
)
from newsletters.reports import campaign_report, journey_report
from newsletters.services import message_unsubscribe
from tests.factories import BookingFactory, GuestFactory, PartnerFactory
from tests.newsletters.helpers import grant
from tests.newsletters.tracking_helpers import campaign_make, hit_make, message_make
from tests.queries import assert_num_queries, capture_queries

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)
SENT_AT = NOW - dt.timedelta(days=20)
CLICKED_AT = SENT_AT + dt.timedelta(hours=2)


def _booking(
    guest, partner, *, days_after_click: float, status=Booking.Status.CONFIRMED, cents=10000
):
    booking = BookingFactory(booker=guest, session__offer__partner=partner, status=status)
    Booking.objects.filter(pk=booking.pk).update(
        created_at=CLICKED_AT + dt.timedelta(days=days_after_click), total_cents=cents
    )
    return booking


def _campaign_data(n_extra: int = 0):
    """Five recipients (plus ``n_extra`` more who did nothing) with one of each outcome."""
    campaign = campaign_make("December")
    school, lodging = PartnerFactory(name="Ski school"), PartnerFactory(name="Chalet")
    reader, scanned, bounced, unsubscribed, skipped = (GuestFactory() for _ in range(5))
    m_reader = message_make(reader, campaign, sent_at=SENT_AT)
    # The reader opened (profiling granted: kept per guest) and clicked two links, twice one.
    hit_make(m_reader, kind="open", at=CLICKED_AT - dt.timedelta(minutes=1))
    for link in (1, 1, 2):
        hit_make(m_reader, link_index=link, at=CLICKED_AT, url=f"https://x.example/{link}")
    # A gateway fetched every link and the trap of another message.
    m_scanned = message_make(scanned, campaign, sent_at=SENT_AT)
    for link in (0, 1, 2):
        hit_make(
            m_scanned,
            link_index=link,
            at=SENT_AT + dt.timedelta(seconds=5),
            verdict="machine",
            reason="trap_link" if link == 0 else "link_burst",
            url=f"https://x.example/{link}",
        )
    hit_make(
        m_scanned, link_index=1, at=NOW, settled=False, url="https://x.example/1"
    )  # not settled yet
    # Opens of guests without profiling consent: counts only.
    for verdict, reason, count in (
        ("human", "no_machine_signal", 4),
        ("human", "image_proxy", 2),
        ("machine", "apple_privacy_prefetch", 3),
    ):
        TrackingCount.objects.create(
            scope=f"campaign:{campaign.pk}",
            campaign=campaign,
            kind="open",
            verdict=verdict,
            reason=reason,
            count=count,
        )
    m_bounced = message_make(bounced, campaign, sent_at=SENT_AT, address="Bounce@Example.org")
    Suppression.objects.create(address="bounce@example.org", reason="bounce")
    message_make(unsubscribed, campaign, sent_at=SENT_AT)
    m_unsub = unsubscribed.messages.get()
    grant(unsubscribed)
    message_unsubscribe(message=m_unsub, evidence={"ip": "198.51.100.1"})
    Suppression.objects.create(address=m_unsub.address, reason="complaint")
    message_make(skipped, campaign, status="skipped")
    for _ in range(n_extra):
        message_make(GuestFactory(), campaign, sent_at=SENT_AT)
    # Revenue: the reader booked twice within the window (one cancelled), once after it; the
    # scanned guest's booking follows only machine clicks.
    _booking(reader, school, days_after_click=3, cents=24000)
    _booking(reader, lodging, days_after_click=10, cents=90000)
    _booking(reader, lodging, days_after_click=12, status=Booking.Status.CANCELLED)
    _booking(reader, school, days_after_click=45)
    _booking(scanned, school, days_after_click=1)
    return campaign, {"bounced": m_bounced}


def test_campaign_report_figures():
    campaign, _ = _campaign_data()
    report = campaign_report(campaign)
    assert report["sent"] == 5
    assert report["delivered"] == 4
    assert report["bounced"] == 1
    assert report["complained"] == 1
    assert report["unsubscribed"] == 1
    assert report["human_opens_unique"] == 1
    assert report["human_opens_counted"] == 6
    assert report["human_opens"] == 7
    assert report["human_opens_proxy"] == 2
    assert report["machine_opens"] == [
        {"reason": "apple_privacy_prefetch", "label": "Apple Mail privacy prefetch", "count": 3}
    ]
    assert report["human_clicks_unique"] == 1
    assert report["human_clicks"] == 3
    assert report["clicks_pending"] == 1
    assert {m["reason"]: m["count"] for m in report["machine_clicks"]} == {
        "link_burst": 2,
        "trap_link": 1,
    }
    assert report["machine_clicks_total"] == 3
    assert report["click_rate"] == 25.0
    links = {row["link_index"]: (row["human"], row["machine"]) for row in report["links"]}
    assert links == {1: (1, 1), 2: (1, 1)}
    assert [(r["partner"], r["bookings"], r["revenue_cents"]) for r in report["revenue"]] == [
        ("Chalet", 1, 90000),
        ("Ski school", 1, 24000),
    ]
    assert report["revenue_cents"] == 114000
    assert report["attribution_days"] == 30


def test_the_attribution_window_is_a_setting(settings):
    campaign, _ = _campaign_data()
    settings.NEWSLETTER_ATTRIBUTION_DAYS = 5
    assert [r["partner"] for r in campaign_report(campaign)["revenue"]] == ["Ski school"]
    assert campaign_report(campaign, attribution_days=60)["attributed_bookings"] == 3


def test_campaign_report_queries_do_not_grow_with_recipients():
    campaign, _ = _campaign_data(n_extra=3)
    with assert_num_queries(7):
        campaign_report(campaign)


def test_journey_report_per_step():
    journey = Journey.objects.create(
        name="Welcome", slug="welcome-r", trigger="subscription_confirmed"
    )
    steps = [
        JourneyStep.objects.create(
            journey=journey, sort_order=n, name=f"step {n}", kind="marketing", purpose="newsletter"
        )
        for n in range(3)
    ]
    partner = PartnerFactory(name="Chalet")
    clickers = []
    for n, guest in enumerate(GuestFactory() for _ in range(4)):
        enrolment = Enrolment.objects.create(
            journey=journey, guest=guest, key=f"subscription-{n}", enrolled_at=SENT_AT
        )
        for step in steps[:2]:
            message = message_make(
                guest, dedupe_key=f"journey:{step.pk}:{enrolment.pk}", sent_at=SENT_AT
            )
            EnrolmentStep.objects.create(
                enrolment=enrolment, step=step, due_at=SENT_AT, status="sent", message=message
            )
            if step == steps[0] and n < 2:
                hit_make(message, journey_step=step, at=CLICKED_AT)
                clickers.append(guest)
            if step == steps[1] and n == 0:
                hit_make(message, journey_step=step, verdict="machine", reason="too_soon")
    TrackingCount.objects.create(
        scope=f"step:{steps[1].pk}", journey_step=steps[1], kind="open", verdict="human",
        reason="no_machine_signal", count=5,
    )  # fmt: skip
    _booking(clickers[0], partner, days_after_click=2, cents=50000)
    with assert_num_queries(7):
        report = journey_report(journey)
    first, second, third = report["steps"]
    assert (first["step"], first["delivered"], first["human_clicks_unique"]) == (steps[0], 4, 2)
    assert first["click_rate"] == 50.0
    assert (second["human_clicks_unique"], second["machine_clicks_total"]) == (0, 1)
    assert second["human_opens_counted"] == 5
    assert third["delivered"] == 0
    total = report["total"]
    assert (total["delivered"], total["human_clicks_unique"], total["machine_clicks_total"]) == (
        8,
        2,
        1,
    )
    assert [(r["partner"], r["revenue_cents"]) for r in total["revenue"]] == [("Chalet", 50000)]


def test_journey_report_queries_do_not_grow_with_steps():
    journey = Journey.objects.create(name="W", slug="w-r", trigger="subscription_confirmed")
    JourneyStep.objects.create(journey=journey, sort_order=0, name="a")
    with capture_queries() as few:
        journey_report(journey)
    for n in range(1, 4):
        JourneyStep.objects.create(journey=journey, sort_order=n, name=f"s{n}")
    with capture_queries() as many:
        journey_report(journey)
    assert len(few) == len(many)


def test_the_journey_report_page_shows_each_step(client):
    from tests.factories import UserFactory

    admin = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(admin)
    journey = Journey.objects.create(
        name="Welcome", slug="w-page", trigger="subscription_confirmed"
    )
    JourneyStep.objects.create(journey=journey, sort_order=0, name="Day one")
    response = client.get(f"/cms/newsletters/journeys/{journey.pk}/report/")
    assert response.status_code == 200
    assert b"Day one" in response.content
    assert b"Revenue attributed per partner" in response.content
    listing = client.get("/cms/snippets/newsletters/journey/")
    assert f"/cms/newsletters/journeys/{journey.pk}/report/".encode() in listing.content


def test_a_partner_sees_only_its_own_bookings_revenue():
    campaign, _ = _campaign_data()
    chalet = PartnerFactory._meta.model.objects.get(name="Chalet")
    report = campaign_report(campaign, revenue_of_partner=chalet.pk)
    assert [(r["partner"], r["revenue_cents"]) for r in report["revenue"]] == [("Chalet", 90000)]
    assert report["revenue_cents"] == 90000
