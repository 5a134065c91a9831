"""The staff shell's main navigation, as a small registry so the apps above it add their screens
("Guests", "Bookings") from their ``AppConfig.ready`` or urls without editing the shell's
templates:

    from partners.nav import nav_register
    nav_register("bookings", _("Bookings"), "bookings:desk", order=30)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.urls import NoReverseMatch, reverse

if TYPE_CHECKING:
    from django.http import HttpRequest


@dataclass(frozen=True)
class NavItem:
    key: str
    label: Any  # a lazy translation
    url_name: str
    order: int = 50
    # Shown only when this returns True for the request (request.partner / membership are set).
    is_visible: Callable[[HttpRequest], bool] | None = None


_ITEMS: dict[str, NavItem] = {}


def nav_register(
    key: str,
    label: Any,
    url_name: str,
    *,
    order: int = 50,
    is_visible: Callable[[HttpRequest], bool] | None = None,
) -> None:
    """Add (or replace, by ``key``) an entry of the portal's main navigation."""
    _ITEMS[key] = NavItem(key, label, url_name, order, is_visible)


def nav_items(request: HttpRequest) -> list[dict[str, Any]]:
    """The entries to show for this request, in order, the current one marked active."""
    items = []
    path = request.path
    for item in sorted(_ITEMS.values(), key=lambda i: (i.order, i.key)):
        if item.is_visible is not None and not item.is_visible(request):
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        items.append({"key": item.key, "label": item.label, "url": url, "active": False})
    # The longest matching URL is the current screen ("/portal/duplicates/" over "/portal/").
    matching = [i for i in items if path.startswith(i["url"])]
    if matching:
        max(matching, key=lambda i: len(i["url"]))["active"] = True
    return items
