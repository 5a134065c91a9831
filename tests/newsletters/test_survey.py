"""The post-stay survey: signed link, form in the guest's language, answer on the timeline and
in the partner's list, CSRF, and no 500 whatever is sent."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from destination.models import TimelineEvent
from newsletters.journeys import survey_token, survey_url
from newsletters.models import Enrolment, EnrolmentStep, Journey, JourneyStep, SurveyAnswer
from newsletters.surveys import survey_answers_for_partner
from tests.factories import BookingFactory, PartnerFactory, UserFactory


@pytest.fixture
def due(db):
    """A J+2 survey email that went out to a French guest after a stay with a partner."""
    booking = BookingFactory(booker__language="fr")
    journey = Journey.objects.create(
        name="Stay", slug="s", trigger=Journey.Trigger.BOOKING_CONFIRMED, is_active=True
    )
    step = JourneyStep.objects.create(
        journey=journey, name="survey", anchor="booking_end", offset_days=2,
        subject_fr="Votre avis", subject_en="Your opinion",
        body_fr="<mj-text>[[survey_url]]</mj-text>", body_en="<mj-text>[[survey_url]]</mj-text>",
    )  # fmt: skip
    enrolment = Enrolment.objects.create(
        journey=journey, guest=booking.booker, booking=booking, key=f"booking:{booking.pk}",
        enrolled_at=timezone.now(),
    )  # fmt: skip
    return EnrolmentStep.objects.create(
        enrolment=enrolment, step=step, due_at=timezone.now(), status=EnrolmentStep.Status.SENT
    )


def _url(due: EnrolmentStep) -> str:
    return reverse("newsletters:survey", kwargs={"token": survey_token(due_id=due.pk)})


def test_the_link_is_absolute_and_signed(due):
    url = survey_url(due_id=due.pk)
    assert url.startswith("http") and url.endswith(_url(due))
    assert str(due.pk) in url  # readable id, but signed:
    assert Client().get(_url(due).replace(f"/{due.pk}:", f"/{due.pk + 1}:")).status_code == 400


def test_the_form_is_in_the_guests_language(client, due):
    response = client.get(_url(due))
    assert response.status_code == 200
    assert response.headers["Content-Language"] == "fr" or b'lang="fr"' in response.content
    assert b"csrfmiddlewaretoken" in response.content
    assert "Recommanderiez-vous votre séjour" in response.content.decode()


def test_an_answer_lands_on_the_timeline_and_in_the_partners_list(client, due):
    response = client.post(_url(due), {"score": "9", "comment": "Super moniteur"})
    assert response.status_code == 200
    answer = SurveyAnswer.objects.get()
    partner = due.enrolment.booking.partner
    assert (answer.score, answer.comment, answer.partner, answer.language) == (
        9, "Super moniteur", partner, "fr",
    )  # fmt: skip
    entry = TimelineEvent.objects.get(guest=due.enrolment.guest, data__survey=answer.pk)
    assert entry.partner == partner and entry.body == "Super moniteur"
    guest = due.enrolment.guest
    guest.refresh_from_db()
    assert guest.last_contact_at is not None and timezone.now() - guest.last_contact_at < (
        dt.timedelta(minutes=1)
    )
    assert list(survey_answers_for_partner(partner=partner)) == [answer]
    assert list(survey_answers_for_partner(partner=PartnerFactory())) == []

    again = client.post(_url(due), {"score": "1", "comment": "changed my mind"})
    assert again.status_code == 200
    assert SurveyAnswer.objects.get().score == 9  # one email, one answer


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"score": "11"},
        {"score": "-1"},
        {"score": "abc"},
        {"score": "5.5"},
        {"score": ["1", "x"]},
        {"score": "3", "comment": "x" * 5000},
    ],
)
def test_bad_input_shows_the_form_again_never_a_500(client, due, data):
    response = client.post(_url(due), data)
    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert not SurveyAnswer.objects.exists()


def test_a_control_character_is_refused_before_the_form(client, due):
    """The input check (destination.middleware) answers 400 to a NUL byte on every page."""
    response = client.post(_url(due), {"score": "\x00"})
    assert response.status_code == 400
    assert not SurveyAnswer.objects.exists()


@pytest.mark.parametrize(
    "token", ["", "x", "12", "12:abc", "%00", "a" * 500, "../../admin", "1:" + "A" * 27]
)
def test_bad_tokens_are_a_400_never_a_500(client, db, token):
    response = client.get(f"/newsletters/survey/{token}/")
    assert response.status_code in (400, 404)


def test_an_unsent_email_has_no_survey(client, due):
    EnrolmentStep.objects.filter(pk=due.pk).update(status=EnrolmentStep.Status.CANCELLED)
    assert client.get(_url(due)).status_code == 400


def test_csrf_is_required(due):
    client = Client(enforce_csrf_checks=True)
    assert client.post(_url(due), {"score": "8"}).status_code == 403
    assert not SurveyAnswer.objects.exists()
    page = client.get(_url(due))
    token = page.cookies["csrftoken"].value
    response = client.post(_url(due), {"score": "8", "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert SurveyAnswer.objects.get().score == 8


def test_the_admin_lists_answers_per_partner(client, due):
    client.post(_url(due), {"score": "7"})
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    partner = due.enrolment.booking.partner
    response = client.get(
        f"/django-admin/newsletters/surveyanswer/?partner__id__exact={partner.pk}"
    )
    assert response.status_code == 200
    assert b"7" in response.content
