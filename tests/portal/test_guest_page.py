"""The guest's 360° page: what each partner sees, the timeline and its query count."""

import datetime as dt

import pytest
from django.core.signals import request_started
from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from destination.models import AuditEntry, Guest, TimelineEvent, Visibility
from destination.services.gdpr import guest_erase
from destination.services.merge import guest_merge
from destination.services.resolution import PersonData, guest_resolve
from partners.access import guest_access
from partners.services import interaction_log
from portal.selectors import timeline_page
from tests.factories import (
    GuestEmailFactory,
    GuestFactory,
    GuestPhoneFactory,
    PartnerGuestLinkFactory,
)

pytestmark = pytest.mark.django_db


def url(guest: Guest) -> str:
    return reverse("portal:guest", args=[guest.pk])


def add_entries(guest: Guest, n: int, partner=None) -> None:
    now = timezone.now()
    TimelineEvent.objects.bulk_create(
        TimelineEvent(
            guest=guest,
            kind=TimelineEvent.Kind.INTERACTION if i % 2 else TimelineEvent.Kind.BOOKING,
            occurred_at=now - dt.timedelta(minutes=i),
            title=f"Entry {i}",
            partner=partner,
            visibility=Visibility.SHARED,
        )
        for i in range(n)
    )


def test_page_shows_identity_contact_and_timeline(client, agent, school, guest):
    GuestEmailFactory(guest=guest, email="jeanne@mail.example")
    PartnerGuestLinkFactory(partner=school, guest=guest)
    interaction_log(
        guest=guest,
        partner=school,
        staff=agent,
        kind="call",
        channel="phone",
        summary="Called about lessons",
    )
    client.force_login(agent)
    response = client.get(url(guest))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Jeanne Martin" in html and "jeanne@mail.example" in html
    assert "Called about lessons" in html
    assert 'id="log-form"' in html


def test_unrelated_partner_sees_masked_contact_and_cannot_edit(client, rental_agent, guest):
    GuestEmailFactory(guest=guest, email="jeanne@mail.example")
    client.force_login(rental_agent)
    html = client.get(url(guest)).content.decode()
    assert "jeanne@mail.example" not in html
    assert "j•••e@mail.example" in html
    assert "Add an email or a phone" not in html
    response = client.post(
        reverse("portal:contact", args=[guest.pk]), {"action": "add", "email": "x@y.example"}
    )
    assert response.status_code == 302
    assert not guest.emails.filter(email_normalized="x@y.example").exists()


def test_private_interaction_is_never_shown_to_another_partner(
    client, agent, rental_agent, steward, guest, school, rental
):
    PartnerGuestLinkFactory(partner=school, guest=guest)  # the school served the guest
    interaction_log(
        guest=guest,
        partner=school,
        staff=agent,
        kind="note",
        channel="in_person",
        summary="Secret school note",
        visibility=Visibility.PRIVATE,
    )
    interaction_log(
        guest=guest,
        partner=school,
        staff=agent,
        kind="note",
        channel="in_person",
        summary="Shared school note",
    )
    # The rental knows the guest and the guest agreed to share: still no private note.
    PartnerGuestLinkFactory(partner=rental, guest=guest)
    for user in (rental_agent, steward):
        client.force_login(user)
        page = client.get(url(guest)).content.decode()
        more = client.get(reverse("portal:timeline", args=[guest.pk])).content.decode()
        assert "Secret school note" not in page and "Secret school note" not in more
    client.force_login(steward)
    assert "Shared school note" in client.get(url(guest)).content.decode()
    client.force_login(agent)
    assert "Secret school note" in client.get(url(guest)).content.decode()


def _queries(client, path: str) -> int:
    # Django empties the query log when a request starts: count with that switched off.
    request_started.disconnect(reset_queries)
    try:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(path)
    finally:
        request_started.connect(reset_queries)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_guest_page_query_count_does_not_grow_with_the_timeline(client, steward, office):
    small, big = GuestFactory(), GuestFactory()
    GuestEmailFactory(guest=small), GuestEmailFactory(guest=big)
    add_entries(small, 5, partner=office)
    add_entries(big, 1000, partner=office)
    client.force_login(steward)
    _queries(client, url(small))  # warm caches (content types, settings)
    few = _queries(client, url(small))
    many = _queries(client, url(big))
    assert few == many, (few, many)
    assert 10 <= many <= 30, many


def test_each_opening_of_the_page_is_audited_not_its_fragments(
    client, agent, school, guest, steward, office
):
    client.force_login(agent)
    assert client.get(url(guest)).status_code == 200
    client.get(url(guest) + "?kind=booking", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="timeline")
    client.get(reverse("portal:timeline", args=[guest.pk]))
    views = AuditEntry.objects.filter(guest=guest, action=AuditEntry.Action.VIEW)
    assert [(v.actor, v.acting_partner, v.details) for v in views] == [
        (agent, school, {"via": "portal"})
    ]
    client.force_login(steward)
    response = client.get(url(guest))
    assert response.status_code == 200, response
    assert views.all().count() == 2 and views.filter(actor=steward, acting_partner=office).exists()


def test_new_booking_link_for_partners_with_something_to_book(
    client, agent, school, rental_agent, steward, guest
):
    from bookings.models import Offer

    new_booking = f'href="{reverse("bookings_desk:new")}?guest={guest.pk}"'
    client.force_login(agent)
    assert new_booking not in client.get(url(guest)).content.decode()  # no offer yet
    offer = Offer.objects.create(
        partner=school, kind=Offer.Kind.GROUP_LESSON, slug="group-lesson",
        title_en="Group lesson", price_cents=5000, is_published=True,
    )  # fmt: skip
    page = client.get(url(guest)).content.decode()
    assert new_booking in page and "New booking for this guest" in page
    # The desk carries the guest on to the booking form of the offer chosen.
    desk = client.get(reverse("bookings_desk:new"), {"guest": guest.pk}).content.decode()
    assert f"{reverse('bookings_desk:create', args=[offer.slug])}?guest={guest.pk}" in desk
    # Another partner's offers are not the rental shop's to book; the tourist office books all.
    client.force_login(rental_agent)
    assert new_booking not in client.get(url(guest)).content.decode()
    Offer.objects.all().delete()
    client.force_login(steward)
    assert new_booking in client.get(url(guest)).content.decode()


def test_timeline_keyset_pages_cover_everything_once(steward, office):
    guest = GuestFactory()
    add_entries(guest, 45, partner=office)
    access = guest_access(partner=office, guest=guest)
    seen, cursor = [], ""
    while True:
        page = timeline_page(partner=office, guest=guest, access=access, cursor=cursor)
        seen += [e.id for e in page.entries]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert len(seen) == 45 == len(set(seen))
    times = list(
        TimelineEvent.objects.filter(pk__in=seen)
        .order_by("-occurred_at", "-id")
        .values_list("id", flat=True)
    )
    assert seen == times


def test_load_more_endpoint_and_filters(client, steward, office, school):
    guest = GuestFactory()
    add_entries(guest, 25, partner=office)
    add_entries(guest, 3, partner=school)
    client.force_login(steward)
    first = client.get(url(guest)).content.decode()
    assert "Load more" in first
    nxt = client.get(reverse("portal:timeline", args=[guest.pk]) + "?cursor=bogus").content.decode()
    assert "Entry 0" in nxt  # a bad cursor starts from the top, no error
    only_school = client.get(
        url(guest) + f"?partner={school.pk}", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="timeline"
    ).content.decode()
    assert only_school.count('class="tl ') == 3
    bookings = client.get(url(guest) + "?kind=booking").content.decode()
    assert "Entry 1<" not in bookings and "Entry 2<" in bookings


def test_merged_profile_url_lands_on_the_survivor(client, agent, school):
    survivor, merged = GuestFactory(), GuestFactory()
    guest_merge(survivor=survivor, merged=merged, actor=None)
    client.force_login(agent)
    response = client.get(url(merged))
    assert response.status_code == 302 and response["Location"] == url(survivor)
    timeline = client.get(reverse("portal:timeline", args=[merged.pk]))
    assert timeline["Location"] == reverse("portal:timeline", args=[survivor.pk])


def test_unknown_and_erased_guests(client, agent, guest):
    client.force_login(agent)
    assert client.get(reverse("portal:guest", args=[999999])).status_code == 404
    guest_erase(guest=guest, actor=None, reason="request")
    response = client.get(url(guest))
    assert response.status_code == 410
    assert b"Jeanne" not in response.content


def test_household_members_named_by_access(client, steward, guest):
    from destination.models import Household

    household = Household.objects.create(name="Famille Martin")
    guest.household = household
    guest.save()
    GuestFactory(first_name="Louis", last_name="Martin", household=household)
    client.force_login(steward)
    html = client.get(url(guest)).content.decode()
    assert "Famille Martin" in html and "Louis Martin" in html


def test_phone_shown_in_e164(client, steward, guest):
    GuestPhoneFactory(guest=guest, phone="+33612345678")
    client.force_login(steward)
    assert "+33612345678" in client.get(url(guest)).content.decode()


def test_the_page_reads_the_staff_members_membership_once(client, steward, office):
    """The permissions shown on the page (edit, export, erase, merges) use the membership
    portal_view already checked: no query per permission."""
    guest = GuestFactory()
    GuestEmailFactory(guest=guest)
    client.force_login(steward)
    client.get(url(guest))  # warm caches
    request_started.disconnect(reset_queries)
    try:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url(guest)).status_code == 200
    finally:
        request_started.connect(reset_queries)
    membership_reads = [
        q["sql"] for q in ctx.captured_queries if 'FROM "partners_membership"' in q["sql"]
    ]
    assert len(membership_reads) == 1, membership_reads


def test_a_phone_kept_as_typed_shows_as_typed_and_masked_for_an_unrelated_partner(
    client, agent, rental_agent, school, guest
):
    """Resolution keeps a number nothing could read (no country anywhere) by its digits,
    for matching only: the guest page shows it as typed, never as a callable phone."""
    result = guest_resolve(
        PersonData(first_name="Ola", last_name="Nordmann", phone="612 34 5678"),
        source=Guest.Source.IMPORT,
        keep_partial=True,
    )
    typed_guest = result.guest
    assert typed_guest is not None and not typed_guest.phones.exists()
    PartnerGuestLinkFactory(partner=school, guest=typed_guest)
    client.force_login(agent)
    html = client.get(url(typed_guest)).content.decode()
    assert "612345678" in html and "as typed, country unknown" in html
    assert 'href="tel:612345678"' not in html
    client.force_login(rental_agent)
    html = client.get(url(typed_guest)).content.decode()
    assert "612345678" not in html and "••• ••• 678" in html
