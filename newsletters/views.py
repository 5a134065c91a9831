"""Public pages reached from an email, without logging in."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from destination.http import request_evidence
from destination.models import Destination
from newsletters.models import Message
from newsletters.selectors import message_get_by_token
from newsletters.services import message_unsubscribe


@csrf_exempt  # RFC 8058: mail clients POST with no cookie and no token; the signed URL is the key
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a confirmation page with a button (link scanners only fetch: they unsubscribe
    nobody); POST (the button, or a one-click POST from the mail client) unsubscribes at once
    and answers 200, never a redirect. A tampered token is a 400 page."""
    message = message_get_by_token(token=token)
    brand = Destination.load()
    if message is None:
        return render(request, "newsletters/unsubscribe_invalid.html", {"brand": brand}, status=400)
    with translation.override(message.language):
        context = {"brand": brand, "message": message, "scope": _scope(message)}
        if request.method == "POST":
            withdrawn = message_unsubscribe(
                message=message,
                evidence={
                    **request_evidence(request),
                    "via": "page_button" if "confirm" in request.POST else "one_click_post",
                },
            )
            context["withdrawn"] = withdrawn
            return render(request, "newsletters/unsubscribe_done.html", context)
        return render(request, "newsletters/unsubscribe_confirm.html", context)


def _scope(message: Message) -> str:
    if message.partner is not None:
        return str(message.partner.name)
    return str(Destination.load().brand_name)
