"""The newsletter signup pages (double opt-in), moved from ``content.views``. Thin: the rules are
in ``newsletters.signup``. Mounted by the project's URLs under the language prefix with the
namespace ``content`` (``content:newsletter_signup``, ``..._done``, ``..._confirm``), so the
paths and names, and every confirmation link already sent, are the ones from before the move."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe
from wagtail.models import Page

from destination.errors import form_add_domain_error
from destination.http import client_ip
from newsletters import signup
from newsletters.signup_forms import NewsletterSignupForm


def _signup_page_url(request: HttpRequest, page_id: int | None) -> str:
    """Where the person signed up: the page carrying the form, as an absolute address."""
    if page_id:
        page = Page.objects.live().filter(pk=page_id).first()
        if page is not None:
            return page.get_full_url(request) or ""
    return signup.site_absolute_url(request.path)


def newsletter_signup(request: HttpRequest) -> HttpResponse:
    """POST: the footer form or a signup block. GET: the same form on a page of its own, which
    also shows the errors of a form posted from another page."""
    form = NewsletterSignupForm(
        request.POST or None, initial={"language": translation.get_language()}
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                signup.newsletter_signup_request(
                    email=data["email"],
                    language=data["language"],
                    interests=data["interests"],
                    wording=data["wording"],
                    page_url=_signup_page_url(request, data.get("page")),
                    ip_address=client_ip(request),
                    user_agent=request.META.get("HTTP_USER_AGENT", ""),
                )
            except signup.NewsletterError as error:
                form_add_domain_error(form, error)
                status = 429 if error.code == "rate_limited" else 400
            else:
                return redirect("content:newsletter_signup_done")
        else:
            status = 400
    wording = signup.newsletter_wording(translation.get_language())
    return TemplateResponse(
        request,
        "newsletters/signup/signup.html",
        {"form": form, "wording": wording},
        status=status,
    )


def newsletter_signup_done(request: HttpRequest) -> HttpResponse:
    return TemplateResponse(request, "newsletters/signup/signup_done.html", {})


def newsletter_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button, POST confirms: mail scanners that follow links must not subscribe
    anyone on their own."""
    context: dict[str, object] = {"token": token}
    try:
        found = signup.newsletter_signup_from_token(token)
    except signup.NewsletterError as error:
        context.update(error=str(error), error_code=error.code)
        return TemplateResponse(request, "newsletters/signup/confirm.html", context, status=400)
    if request.method == "POST":
        try:
            found = signup.newsletter_signup_confirm(
                token=token,
                ip_address=client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
            )
        except signup.NewsletterError as error:
            # Expired or deleted since the check above, or refused while confirming.
            context.update(error=str(error), error_code=error.code)
            return TemplateResponse(request, "newsletters/signup/confirm.html", context, status=400)
    context["signup"] = found
    context["confirmed"] = found.status == found.Status.CONFIRMED
    return TemplateResponse(request, "newsletters/signup/confirm.html", context)


def signup_form_render(
    *, request: HttpRequest | None, variant: str, auto_id: str, page_id: int | None
) -> SafeString:
    """The empty signup form of the footer or a signup block, with the wording it shows: the
    content pages render it through ``destination.registry.signup_form()`` (content is below
    newsletters and never imports it)."""
    language = translation.get_language() or "en"
    wording = signup.newsletter_wording(language)
    form = NewsletterSignupForm(
        auto_id=auto_id,
        initial={"language": language, "wording": wording.pk, "page": page_id},
    )
    context: dict[str, Any] = {"form": form, "wording": wording, "variant": variant}
    return mark_safe(  # noqa: S308  a template's own output, escaped by the template
        render_to_string("newsletters/signup/form.html", context, request=request)
    )
