"""Views of the public site: search (Wagtail search over the reader's language tree) and the
newsletter signup. Thin: the rules are in ``content.newsletter``."""

from __future__ import annotations

import re

from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import translation
from wagtail.models import Locale, Page

from content import newsletter
from content.forms import NewsletterSignupForm
from destination.errors import form_add_domain_error
from destination.http import client_ip

RESULTS_PER_PAGE = 10
SEARCH_MAX_LENGTH = 200
SEARCH_MAX_TERMS = 12


def search_terms(query: str) -> str:
    """What the reader typed, as plain words: quotes, brackets, ``*``, ``:``, ``^`` and the like
    are full-text query syntax on SQLite (FTS5) and PostgreSQL, and a stray one made the search
    fail. Capped in length and in number of words."""
    return " ".join(re.findall(r"\w+", query[:SEARCH_MAX_LENGTH])[:SEARCH_MAX_TERMS])


def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:SEARCH_MAX_LENGTH]
    terms = search_terms(query)
    results = Page.objects.none()
    if terms:
        # Only the reader's language: a French reader should not land on English pages.
        pages = (
            Page.objects.live()
            .public()
            .filter(locale=Locale.get_active(), depth__gt=1)  # never the tree's root node
            .specific()
        )
        results = pages.search(terms)
    paginator = Paginator(results, RESULTS_PER_PAGE)
    try:
        page_obj = paginator.page(request.GET.get("page", 1))
    except PageNotAnInteger:
        page_obj = paginator.page(1)
    except EmptyPage:
        page_obj = paginator.page(paginator.num_pages)
    return TemplateResponse(
        request, "content/search.html", {"search_query": query, "results": page_obj}
    )


# --- Newsletter signup (double opt-in) --------------------------------------------------------


def _signup_page_url(request: HttpRequest, page_id: int | None) -> str:
    """Where the person signed up: the page carrying the form, as an absolute address."""
    if page_id:
        page = Page.objects.live().filter(pk=page_id).first()
        if page is not None:
            return page.get_full_url(request) or ""
    return newsletter.site_absolute_url(request.path)


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
                newsletter.newsletter_signup_request(
                    email=data["email"],
                    language=data["language"],
                    interests=data["interests"],
                    wording=data["wording"],
                    page_url=_signup_page_url(request, data.get("page")),
                    ip_address=client_ip(request),
                    user_agent=request.META.get("HTTP_USER_AGENT", ""),
                )
            except newsletter.NewsletterError as error:
                form_add_domain_error(form, error)
                status = 429 if error.code == "rate_limited" else 400
            else:
                return redirect("content:newsletter_signup_done")
        else:
            status = 400
    wording = newsletter.newsletter_wording(translation.get_language())
    return TemplateResponse(
        request,
        "content/newsletter/signup.html",
        {"form": form, "wording": wording},
        status=status,
    )


def newsletter_signup_done(request: HttpRequest) -> HttpResponse:
    return TemplateResponse(request, "content/newsletter/signup_done.html", {})


def newsletter_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button, POST confirms: mail scanners that follow links must not subscribe
    anyone on their own."""
    context: dict[str, object] = {"token": token}
    try:
        signup = newsletter.newsletter_signup_from_token(token)
    except newsletter.NewsletterError as error:
        context.update(error=str(error), error_code=error.code)
        return TemplateResponse(request, "content/newsletter/confirm.html", context, status=400)
    if request.method == "POST":
        try:
            signup = newsletter.newsletter_signup_confirm(
                token=token,
                ip_address=client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
            )
        except newsletter.NewsletterError as error:
            # Expired or deleted since the check above, or refused while confirming.
            context.update(error=str(error), error_code=error.code)
            return TemplateResponse(request, "content/newsletter/confirm.html", context, status=400)
    context["signup"] = signup
    context["confirmed"] = signup.status == signup.Status.CONFIRMED
    return TemplateResponse(request, "content/newsletter/confirm.html", context)
