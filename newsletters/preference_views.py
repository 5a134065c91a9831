"""The preference centre's page, reached from the link in any marketing email, without logging
in. Thin: the rules are in ``newsletters.preferences``.

Unlike the one-click unsubscribe, the form is a normal CSRF-protected POST: the GET sets the
cookie, the page's form carries the token. GET never changes anything (link scanners fetch it).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from destination.errors import DomainError, form_add_domain_error
from destination.http import request_evidence
from destination.models import Destination
from newsletters.preference_forms import PreferencesForm
from newsletters.preferences import (
    PreferenceError,
    preferences_leave_all,
    preferences_message_get,
    preferences_read,
    preferences_update,
)


def _page_language(language: str) -> str:
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def _no_referrer(response: HttpResponse) -> HttpResponse:
    # The address holds the signed token: never hand it to another site in a Referer.
    response["Referrer-Policy"] = "same-origin"
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    try:
        message = preferences_message_get(token=token)
    except PreferenceError as error:
        refused = {"error": str(error), "error_code": error.code}
        return _no_referrer(
            TemplateResponse(request, "newsletters/preferences/invalid.html", refused, status=400)
        )
    assert message.guest is not None  # preferences_message_get checked it
    language = _page_language(message.guest.language or message.language)
    with translation.override(language):
        brand = Destination.load()
        current = preferences_read(message=message, language=language)
        form = PreferencesForm(
            request.POST if request.method == "POST" else None,
            preferences=current,
            brand_name=brand.brand_name,
        )
        left = False
        status = 200
        if request.method == "POST":
            evidence = request_evidence(request)
            try:
                if "leave" in request.POST:
                    preferences_leave_all(message=message, evidence=evidence)
                    left = True
                elif form.is_valid():
                    preferences_update(
                        message=message,
                        newsletter=form.cleaned_data["newsletter"],
                        partner_offers=form.partner_offers(),
                        language=form.cleaned_data["language"],
                        page_language=language,
                        evidence=evidence,
                    )
                    # Post/redirect/get: a reload resubmits nothing; the page is then in the
                    # language just chosen.
                    return _no_referrer(redirect(f"{request.path}?saved=1"))
                else:
                    status = 400
            except DomainError as error:  # e.g. the guest was erased since the page was shown
                form_add_domain_error(form, error)
                status = 400
        context = {
            "message": message,
            "preferences": current,
            "form": form,
            "left": left,
            "saved": request.method == "GET" and request.GET.get("saved") == "1",
            "any_offer_off": any(not c.granted for c in current.partners),
        }
        response = TemplateResponse(
            request, "newsletters/preferences/page.html", context, status=status
        )
        response.render()  # inside the language override
    return _no_referrer(response)
