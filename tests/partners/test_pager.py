"""The one pager of the staff pages (portal/includes/pager.html)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import translation


def _render(query: str, number: int, **extra: str) -> str:
    request = RequestFactory().get(f"/desk/{query}")
    page = Paginator(list(range(95)), 20).page(number)
    with translation.override("en"):
        return render_to_string(
            "portal/includes/pager.html", {"page": page, **extra}, request=request
        )


def test_links_keep_the_filters_and_name_the_pages() -> None:
    html = _render("?status=confirmed&q=dupont&page=2", 2)
    assert 'href="?status=confirmed&amp;q=dupont&amp;page=1"' in html
    assert 'href="?status=confirmed&amp;q=dupont&amp;page=3"' in html
    assert 'rel="prev"' in html and 'rel="next"' in html
    assert "Page 2 of 5" in html
    assert 'aria-label="Pages"' in html


def test_first_and_last_pages_link_one_way_only() -> None:
    first = _render("", 1)
    assert 'rel="prev"' not in first and 'href="?page=2"' in first
    last = _render("?page=5", 5)
    assert 'rel="next"' not in last and 'href="?page=4"' in last


def test_labels_are_the_callers() -> None:
    html = _render("", 2, label="Pages of dates", previous_label="Earlier", next_label="Later")
    assert 'aria-label="Pages of dates"' in html
    assert "← Earlier" in html and "Later →" in html


def test_a_single_page_has_no_pager() -> None:
    request = RequestFactory().get("/desk/")
    page = Paginator([1, 2], 20).page(1)
    assert (
        render_to_string("portal/includes/pager.html", {"page": page}, request=request).strip()
        == ""
    )
