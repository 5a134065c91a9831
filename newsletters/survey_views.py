"""The post-stay survey page, reached from a journey email without logging in (the signed
token is the key). CSRF applies: the form is posted from the page it served."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from destination.errors import DomainError, form_add_domain_error
from destination.models import Destination
from newsletters.models import SurveyAnswer
from newsletters.surveys import survey_answer_submit, survey_due_get


class SurveyForm(forms.Form):
    score = forms.TypedChoiceField(
        label=_("How likely are you to recommend your stay to a friend? (0 to 10)"),
        choices=[(str(n), str(n)) for n in range(11)],
        coerce=int,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Anything you would like to tell us?"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


@never_cache
@require_http_methods(["GET", "POST"])
def survey(request: HttpRequest, token: str) -> HttpResponse:
    brand = Destination.load()
    due = survey_due_get(token=token)
    if due is None:
        return render(request, "newsletters/survey_invalid.html", {"brand": brand}, status=400)
    language = due.message.language if due.message else (due.enrolment.guest.language or "en")
    with translation.override(language):
        context = {"brand": brand, "due": due}
        if SurveyAnswer.objects.filter(due=due).exists():
            return render(request, "newsletters/survey_done.html", {**context, "again": True})
        form = SurveyForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                survey_answer_submit(
                    due=due,
                    score=form.cleaned_data["score"],
                    comment=form.cleaned_data["comment"],
                    language=language,
                )
            except DomainError as exc:
                form_add_domain_error(form, exc)
            else:
                return render(request, "newsletters/survey_done.html", context)
        return render(request, "newsletters/survey_form.html", {**context, "form": form})
