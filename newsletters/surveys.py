"""The post-stay survey: a score from 0 to 10 and a comment, reached by a signed link in a
journey email (``[[survey_url]]``: the token names the due row, so one email is one answer).

``survey_answer_submit`` writes the answer, its timeline entry (credited to the booked
partner) and the guest's real contact in one transaction; ``survey_answers_for_partner`` lists
a partner's answers (its report)."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from destination.errors import DomainError
from destination.models import TimelineEvent, Visibility
from destination.services.timeline import guest_contact_touch, timeline_add
from newsletters.journeys import survey_token_read
from newsletters.models import EnrolmentStep, SurveyAnswer
from partners.models import Partner


class SurveyError(DomainError):
    pass


def survey_due_get(*, token: str) -> EnrolmentStep | None:
    """The sent journey email a survey token was made for, or None (tampered, unknown)."""
    due_id = survey_token_read(token)
    if due_id is None:
        return None
    return (
        EnrolmentStep.objects.filter(pk=due_id, status=EnrolmentStep.Status.SENT)
        .select_related("enrolment__guest", "enrolment__booking__partner", "message")
        .first()
    )


def survey_answer_submit(
    *, due: EnrolmentStep, score: int, comment: str, language: str
) -> SurveyAnswer:
    """Record the answer once; a second submission of the same email is refused."""
    if not 0 <= int(score) <= 10:
        raise SurveyError({"score": _("Give a score from 0 to 10.")})
    enrolment = due.enrolment
    booking = enrolment.booking
    now = timezone.now()
    answer = SurveyAnswer(
        due=due,
        guest=enrolment.guest,
        booking=booking,
        partner=booking.partner if booking else None,
        score=int(score),
        comment=(comment or "").strip()[:2000],
        language=language,
    )
    try:
        with transaction.atomic():
            answer.save()
            with translation.override(settings.LANGUAGE_CODE):
                title = _("Survey answered: %(score)d/10") % {"score": answer.score}
            timeline_add(
                guest=enrolment.guest,
                kind=TimelineEvent.Kind.INTERACTION,
                occurred_at=now,
                title=title,
                partner=answer.partner,
                visibility=Visibility.SHARED,
                body=answer.comment,
                data={
                    "survey": answer.pk,
                    "score": answer.score,
                    "booking": booking.pk if booking else None,
                    "journey": enrolment.journey_id,
                },
                source=answer,
            )
            guest_contact_touch(guest_ids=[enrolment.guest_id], at=now)
    except IntegrityError as exc:
        raise SurveyError(
            _("This survey has already been answered. Thank you!"), code="answered"
        ) from exc
    return answer


def survey_answers_for_partner(*, partner: Partner) -> QuerySet[SurveyAnswer]:
    """A partner's survey answers, newest first, with guest and booking (one query)."""
    return (
        SurveyAnswer.objects.filter(partner=partner)
        .select_related("guest", "booking")
        .order_by("-created_at", "-id")
    )
