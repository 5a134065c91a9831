"""A visitor books a group lesson, pays on site and sees the confirmation; the partner's staff
then find the booking on the guest's page of the portal."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from bookings.models import Booking, Offer
from destination.models import ConsentEvent, ConsentWording, Purpose
from partners.models import Membership, Partner
from partners.sharing import sharing_rules_ensure
from tests.bookings.web_helpers import make_offer, make_session, make_wordings
from tests.e2e.helpers import staff_sign_in
from tests.factories import MembershipFactory, PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lesson() -> Offer:
    sharing_rules_ensure()
    # The screenshots show the French page: real French text, not the unit tests' "[fr] ..."
    french = {
        Purpose.NEWSLETTER: "J'accepte de recevoir la lettre d'information de Val Neige.",
        Purpose.PARTNER_OFFERS: "J'accepte de recevoir les offres des partenaires nommés.",
        Purpose.PROFILE_SHARING: "J'accepte que mon profil soit partagé avec ces partenaires.",
    }
    make_wordings()
    for purpose, text in french.items():
        ConsentWording.objects.filter(purpose=purpose, language="fr").update(text=text)
    school = PartnerFactory(name="École de Ski Val Neige", kind=Partner.Kind.SKI_SCHOOL)
    offer = make_offer(
        partner=school,
        title_en="Group ski lesson, intermediate",
        title_fr="Cours collectif de ski, intermédiaire",
        price_cents=5200,
        child_price_cents=4200,
        sessions=0,
    )
    offer.description_en = (
        "Three hours on the blue and red runs in small groups of up to eight, with an "
        "instructor of the ski school. Lift pass not included."
    )
    offer.save()
    for days, taken in ((2, 3), (3, 7), (5, 0), (6, 1)):
        make_session(offer, days=days, capacity=8, taken=taken)
    return offer


def test_visitor_books_a_group_lesson_and_staff_see_it(live_server, page: Page, lesson, screenshot):
    page.goto(f"{live_server.url}/en/book/")
    expect(page.get_by_role("heading", name="Book lessons, stays and passes")).to_be_visible()
    page.get_by_role("link", name="Group ski lesson, intermediate").click()

    expect(page.get_by_role("heading", name="Group ski lesson, intermediate")).to_be_visible()
    expect(page.get_by_text("1 place left")).to_be_visible()  # the 3rd-day session, 7 of 8 taken
    page.locator("input[name=session]").nth(2).check()
    page.get_by_label("Children").fill("1")
    # htmx draws a second name row and the price follows the party.
    expect(page.locator("#id_p1_first_name")).to_be_visible()
    expect(page.get_by_test_id("quote-total")).to_have_text("€94")

    # Camille takes part: adult 1 is the booker, whose name is typed once below.
    expect(page.get_by_test_id("booker-participant")).to_be_visible()
    page.fill("#id_p1_first_name", "Jules")
    page.fill("#id_p1_last_name", "Durand")
    page.fill("#id_first_name", "Camille")
    page.fill("#id_last_name", "Durand")
    page.fill("#id_email", "camille.durand@mail.example")
    page.fill("#id_phone", "06 11 22 33 44")
    page.select_option("#id_country", "FR")
    page.get_by_label("I agree to receive the Val Neige newsletter.").check()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "booking-offer")

    page.get_by_role("button", name="Confirm booking, pay on site").click()

    expect(page.get_by_role("heading", name="Booking confirmed")).to_be_visible()
    booking = Booking.objects.get()
    assert booking.status == Booking.Status.CONFIRMED
    expect(page.get_by_test_id("reference")).to_have_text(booking.reference)
    expect(page.get_by_test_id("party")).to_contain_text("1 adult, 1 child")
    expect(page.get_by_test_id("party")).to_contain_text("Jules Durand")
    expect(page.get_by_test_id("amount")).to_have_text("€94")
    expect(page.get_by_test_id("schedule")).to_contain_text("on site")
    assert re.search(r"\d{1,2}:\d{2}", page.get_by_test_id("session").inner_text())
    assert ConsentEvent.objects.filter(
        guest=booking.booker, purpose=Purpose.NEWSLETTER, granted=True
    ).exists()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "booking-confirmation")

    # The school's desk agent opens the booker's page in the portal and finds the booking.
    agent = MembershipFactory(
        partner=lesson.partner, role=Membership.Role.AGENT, user=UserFactory(language="en")
    ).user
    staff_sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/en/portal/guests/{booking.booker_id}/")
    expect(page.get_by_role("heading", name="Camille Durand")).to_be_visible()
    expect(page.locator("main")).to_contain_text(booking.reference)
    screenshot(page, "booking-portal-guest")

    # The same booking on the school's booking desk.
    page.get_by_role("link", name="Bookings").click()
    page.get_by_role("link", name=booking.reference).click()
    expect(page.get_by_role("heading", name=re.compile(booking.reference))).to_be_visible()
    expect(page.locator("main")).to_contain_text("Jules Durand")
    screenshot(page, "booking-desk-detail")
    page.get_by_label("Amount taken (EUR)").fill("94")
    page.get_by_role("button", name="Record payment on site").click()
    expect(page.get_by_text("Payment recorded.")).to_be_visible()
    page.get_by_role("link", name="All bookings").click()
    screenshot(page, "booking-desk-list")


def test_offer_list_on_a_phone_and_a_desk_phone_booking(
    live_server, page: Page, lesson, screenshot
):
    make_offer(
        partner=PartnerFactory(name="Chalet Les Gentianes", kind=Partner.Kind.LODGING),
        kind=Offer.Kind.STAY,
        title_en="Chalet apartment for 4, 2 nights",
        title_fr="Appartement en chalet pour 4, 2 nuits",
        price_cents=18000,
        names=False,
        pricing=Offer.Pricing.PER_UNIT,
        deposit_percent=30,
    )
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/fr/book/")
    expect(
        page.get_by_role("heading", name="Cours collectif de ski, intermédiaire")
    ).to_be_visible()
    screenshot(page, "booking-list-phone")
    page.get_by_role("link", name="Cours collectif de ski, intermédiaire").click()
    expect(page.get_by_text("Choisir une date")).to_be_visible()
    screenshot(page, "booking-offer-phone-fr")

    page.set_viewport_size({"width": 1366, "height": 900})
    agent = MembershipFactory(partner=lesson.partner, user=UserFactory(language="en")).user
    staff_sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/en/portal/bookings/new/")
    page.get_by_role("link", name=re.compile("Group ski lesson")).click()
    page.get_by_label("Adults").fill("2")
    expect(page.locator("#id_p1_first_name")).to_be_visible()
    # Marc (the booker) is adult 1; only Lina's name is typed here.
    page.fill("#id_p1_first_name", "Lina")
    page.fill("#id_p1_last_name", "Petit")
    page.fill("#id_first_name", "Marc")
    page.fill("#id_last_name", "Petit")
    page.fill("#id_email", "marc.petit@mail.example")
    expect(page.get_by_test_id("quote-total")).to_have_text("€104")
    screenshot(page, "booking-desk-create")
    page.get_by_role("button", name="Confirm the booking").click()
    expect(page.get_by_text(re.compile(r"Booking VN-\w+ confirmed"))).to_be_visible()
    booking = Booking.objects.get()
    assert booking.channel == Booking.Channel.PHONE and booking.created_by == agent


def test_card_payment_waits_for_the_webhook(
    live_server, page: Page, lesson, screenshot, monkeypatch
):
    """Stripe's success redirect lands on a page that waits; only the webhook's confirmation
    (simulated here by the booking turning CONFIRMED) moves the visitor to the confirmation."""
    from bookings import services

    monkeypatch.setattr(services, "payment_provider", lambda: "stripe")
    # Stripe Checkout is not reachable here: the "checkout" sends the visitor straight back to
    # the success URL, as Stripe does once the card is accepted.
    monkeypatch.setattr(
        services, "booking_checkout_url", lambda *, booking, success_url, cancel_url: success_url
    )
    page.goto(f"{live_server.url}/en/book/{lesson.slug}/")
    page.locator("input[name=session]").first.check()
    page.fill("#id_first_name", "Nora")
    page.fill("#id_last_name", "Blanc")
    page.fill("#id_email", "nora.blanc@mail.example")
    page.get_by_role("button", name="Continue to secure payment").click()

    expect(page.get_by_role("heading", name="Payment being confirmed")).to_be_visible()
    booking = Booking.objects.get()
    assert booking.status == Booking.Status.HELD
    screenshot(page, "booking-payment-pending")
    Booking.objects.filter(pk=booking.pk).update(status=Booking.Status.CONFIRMED, paid_cents=5200)
    expect(page.get_by_role("heading", name="Booking confirmed")).to_be_visible(timeout=10_000)
