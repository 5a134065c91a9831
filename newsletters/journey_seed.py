"""Demo journeys, created by ``journeys_demo_create`` (``manage.py seed_journeys``): the stay
journey (confirmation; J-7 practical information; J-6 a ski-school upsell when a ski school
exists; arrival day; J+2 survey; J+300 come back next season), a welcome series for new
subscribers and a reactivation email after 12 months without real contact. Idempotent: an
existing journey (by slug) is left as the marketing team edited it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from bookings.models import Offer
from newsletters.models import Journey, JourneyStep
from partners.models import Partner


def _text(*paragraphs: str) -> str:
    return "\n".join(f"<mj-text>{p}</mj-text>" for p in paragraphs)


def _button(url: str, label: str) -> str:
    return f'<mj-button href="{url}">{label}</mj-button>'


def _step(journey: Journey, order: int, **fields: Any) -> JourneyStep:
    step = JourneyStep(journey=journey, sort_order=order, **fields)
    step.full_clean()
    step.save()
    return step


def _stay_journey(*, active: bool) -> Journey:
    journey: Journey = Journey.objects.create(
        name="Stay: before, during and after",
        slug="stay",
        trigger=Journey.Trigger.BOOKING_CONFIRMED,
        partner_kind=Partner.Kind.LODGING,
        is_active=active,
    )
    _step(
        journey, 0, name="Confirmation: what comes next", anchor="trigger", offset_days=0,
        subject_fr="Votre séjour [[booking_reference]] : la suite",
        subject_en="Your stay [[booking_reference]]: what comes next",
        body_fr=_text("Bonjour [[first_name]],", "Votre séjour chez [[partner_name]] commence le "
                      "[[arrival_date]]. Une semaine avant, nous vous enverrons les infos pratiques."),
        body_en=_text("Hello [[first_name]],", "Your stay at [[partner_name]] starts on "
                      "[[arrival_date]]. A week before, we will send you the practical information."),
    )  # fmt: skip
    _step(
        journey, 1, name="J-7 practical information", anchor="booking_start", offset_days=-7,
        send_time=dt.time(9, 0),
        subject_fr="J-7 : préparez votre arrivée", subject_en="7 days to go: plan your arrival",
        body_fr=_text("Bonjour [[first_name]],", "Accès, parkings, horaires de l'office de "
                      "tourisme et point de rendez-vous des cours : tout est sur notre site.")
        + _button("[[site_url]]", "Infos pratiques et météo"),
        body_en=_text("Hello [[first_name]],", "Getting here, car parks, tourist office hours "
                      "and the lessons' meeting point: everything is on our website.")
        + _button("[[site_url]]", "Practical information and weather"),
    )  # fmt: skip
    school = Partner.objects.filter(kind=Partner.Kind.SKI_SCHOOL).order_by("id").first()
    if school is not None:
        lesson = Offer.objects.filter(partner=school, is_published=True).order_by("id").first()
        _step(
            journey, 2, name="J-6 ski lessons (upsell)", anchor="booking_start", offset_days=-6,
            send_time=dt.time(10, 0), kind="marketing", purpose="partner_offers", partner=school,
            promoted_offer=lesson,
            subject_fr=f"Des cours de ski avec {school.name} ?",
            subject_en=f"Ski lessons with {school.name}?",
            body_fr=_text("Bonjour [[first_name]],", f"{school.name} a encore des places "
                          "pendant votre séjour.") + _button("[[site_url]]", "Réserver un cours"),
            body_en=_text("Hello [[first_name]],", f"{school.name} still has places during "
                          "your stay.") + _button("[[site_url]]", "Book a lesson"),
        )  # fmt: skip
    _step(
        journey, 3, name="Arrival day", anchor="booking_start", offset_days=0,
        send_time=dt.time(8, 0),
        subject_fr="Bienvenue à la montagne !", subject_en="Welcome to the mountains!",
        body_fr=_text("Bonjour [[first_name]],", "Bienvenue ! L'office de tourisme vous "
                      "accueille de 9 h à 18 h."),
        body_en=_text("Hello [[first_name]],", "Welcome! The tourist office is open from "
                      "9 am to 6 pm."),
    )  # fmt: skip
    _step(
        journey, 4, name="J+2 survey", anchor="booking_end", offset_days=2,
        send_time=dt.time(10, 0),
        subject_fr="Comment s'est passé votre séjour ?", subject_en="How was your stay?",
        body_fr=_text("Bonjour [[first_name]],", "Deux questions, une minute : votre avis "
                      "sur [[partner_name]] nous aide.") + _button("[[survey_url]]", "Répondre"),
        body_en=_text("Hello [[first_name]],", "Two questions, one minute: your opinion of "
                      "[[partner_name]] helps us.") + _button("[[survey_url]]", "Answer"),
    )  # fmt: skip
    _step(
        journey, 5, name="J+300 come back next season", anchor="booking_end", offset_days=300,
        send_time=dt.time(10, 0), kind="marketing", purpose="newsletter",
        subject_fr="La saison prochaine se prépare", subject_en="Next season is coming",
        body_fr=_text("Bonjour [[first_name]],", "Les réservations de la saison prochaine "
                      "sont ouvertes.") + _button("[[site_url]]", "Revenir"),
        body_en=_text("Hello [[first_name]],", "Bookings for next season are open.")
        + _button("[[site_url]]", "Come back"),
    )  # fmt: skip
    return journey


def _welcome_journey(*, active: bool) -> Journey:
    journey: Journey = Journey.objects.create(
        name="Welcome series", slug="welcome", trigger=Journey.Trigger.SUBSCRIPTION_CONFIRMED,
        is_active=active,
    )  # fmt: skip
    _step(
        journey, 0, name="Welcome", kind="marketing", purpose="newsletter",
        subject_fr="Bienvenue dans notre newsletter", subject_en="Welcome to our newsletter",
        body_fr=_text("Bonjour [[first_name]],", "Merci de votre inscription !"),
        body_en=_text("Hello [[first_name]],", "Thank you for subscribing!"),
    )  # fmt: skip
    _step(
        journey, 1, name="Discover the resort", offset_days=3, send_time=dt.time(10, 0),
        kind="marketing", purpose="newsletter",
        subject_fr="Découvrez la station", subject_en="Discover the resort",
        body_fr=_text("Bonjour [[first_name]],", "Pistes, écoles, événements : nos idées.")
        + _button("[[site_url]]", "Découvrir"),
        body_en=_text("Hello [[first_name]],", "Slopes, schools, events: our ideas.")
        + _button("[[site_url]]", "Discover"),
    )  # fmt: skip
    return journey


def _reactivation_journey(*, active: bool) -> Journey:
    journey: Journey = Journey.objects.create(
        name="We miss you", slug="reactivation", trigger=Journey.Trigger.NO_CONTACT,
        inactive_months=12, is_active=active,
    )  # fmt: skip
    _step(
        journey, 0, name="We miss you", send_time=dt.time(10, 0), kind="marketing",
        purpose="newsletter",
        subject_fr="Vous nous manquez", subject_en="We miss you",
        body_fr=_text("Bonjour [[first_name]],", "Cela fait longtemps ! Voici les nouveautés.")
        + _button("[[site_url]]", "Voir"),
        body_en=_text("Hello [[first_name]],", "It has been a while! Here is what is new.")
        + _button("[[site_url]]", "See"),
    )  # fmt: skip
    return journey


@transaction.atomic
def journeys_demo_create(*, active: bool = True) -> list[Journey]:
    """Create the demo journeys that do not exist yet; returns the ones created."""
    makers = {
        "stay": _stay_journey,
        "welcome": _welcome_journey,
        "reactivation": _reactivation_journey,
    }
    existing = set(Journey.objects.filter(slug__in=makers).values_list("slug", flat=True))
    return [make(active=active) for slug, make in makers.items() if slug not in existing]
