"""Views of the public site: search (Wagtail search over the reader's language tree). The
newsletter signup's views are ``newsletters.signup_views``."""

from __future__ import annotations

import re

from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from wagtail.models import Locale, Page

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
