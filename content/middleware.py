"""Django's LocaleMiddleware, minus a false redirect.

On a 404 outside the language prefix, Django redirects to the same path under the reader's
language when that path "is valid". Wagtail's catch-all route makes every prefixed path valid,
so /nope/ or /api/unknown became a redirect to /en/nope/ (then a 404) instead of a 404. Here the
redirect happens only when something really lives under the prefix: a Django view, or a live
page of the reader's language tree. ``/`` still redirects to the reader's language.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.urls import Resolver404, resolve
from django.utils import translation
from django.utils.cache import patch_vary_headers
from wagtail.models import Page, Site

WAGTAIL_SERVE = "wagtail_serve"


def _serves(request: HttpRequest, path: str, language: str) -> bool:
    urlconf = getattr(request, "urlconf", settings.ROOT_URLCONF)
    try:
        match = resolve(path, urlconf)
    except Resolver404:
        return False
    if match.url_name != WAGTAIL_SERVE:
        return True
    site = Site.find_for_request(request)
    if site is None:
        return False
    home = (
        Page.objects.filter(
            translation_key=site.root_page.translation_key, locale__language_code=language
        )
        .only("url_path")
        .first()
    )
    if home is None:
        return False
    rest = match.args[0] if match.args else match.kwargs.get("path", "")
    return Page.objects.live().filter(url_path=home.url_path + (rest or "")).exists()


class LocaleMiddleware(DjangoLocaleMiddleware):
    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        path = request.path_info
        if (
            response.status_code == 404
            and path != "/"
            and not translation.get_language_from_path(path)
        ):
            language = translation.get_language()
            prefixed = f"/{language}{path}"
            if not _serves(request, prefixed, language) and not (
                settings.APPEND_SLASH
                and not prefixed.endswith("/")
                and _serves(request, prefixed + "/", language)
            ):
                # Nothing under the prefix either: the 404 stands, as Django would send it.
                patch_vary_headers(response, ("Accept-Language",))
                response.headers.setdefault("Content-Language", language)
                return response
        return super().process_response(request, response)
