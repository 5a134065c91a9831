"""Middleware of the shared core."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.middleware.csp import (
    ContentSecurityPolicyMiddleware as DjangoContentSecurityPolicyMiddleware,
)
from django.template import loader
from django.utils import translation
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)


class AccountLanguageMiddleware:
    """Outside the language prefix (the allauth pages under /accounts/, the GDPR pages), a
    signed-in user's pages speak the language saved on their account rather than the browser's,
    as the portal's prefixed pages already do. Goes after AuthenticationMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not translation.get_language_from_path(request.path_info):
            user = getattr(request, "user", None)
            language = getattr(user, "language", "") if user is not None else ""
            if language and user.is_authenticated:  # type: ignore[union-attr]
                translation.activate(language)
                request.LANGUAGE_CODE = language
        return self.get_response(request)


# NUL and the C0 controls a text field never needs (tab, newline and carriage return stay
# allowed: textareas send them), and DEL. PostgreSQL refuses NUL in text; the others are never
# typed, only injected.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_JSON_TYPES = ("application/json", "application/merge-patch+json")


def has_control_characters(value: object) -> bool:
    """Whether a string, or any key or string inside a decoded JSON value, holds a refused
    control character."""
    if isinstance(value, str):
        return _CONTROL_CHARACTERS.search(value) is not None
    if isinstance(value, dict):
        return any(has_control_characters(k) or has_control_characters(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_control_characters(item) for item in value)
    return False


class InputSanityMiddleware:
    """Refuses, before any view or database sees it, a request whose path, query string, form
    fields, JSON body or user agent holds NUL or another control character (400), and one whose
    body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE or has too many fields (413/400), with a
    short page (JSON under /api/) instead of a server error or, under DEBUG, a traceback.

    Uploaded files are not inspected (CSV imports and images are binary); their names are. The
    paths in INPUT_CHECK_EXEMPT_PATHS (the Stripe webhook: a signed provider payload, validated
    by its own view) are passed through untouched."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if any(request.path_info.startswith(p) for p in settings.INPUT_CHECK_EXEMPT_PATHS):
            return self.get_response(request)
        try:
            refused = self._refused(request)
        except RequestDataTooBig:
            return self._refuse(request, 413, _("The request is too large."))
        except (TooManyFieldsSent, TooManyFilesSent):
            return self._refuse(request, 400, _("The request has too many fields."))
        except (MultiPartParserError, UnicodeDecodeError):
            return self._refuse(request, 400, _("The request could not be read."))
        if refused:
            return self._refuse(
                request, 400, _("The request contains characters that are not allowed.")
            )
        return self.get_response(request)

    @staticmethod
    def _refused(request: HttpRequest) -> bool:
        if has_control_characters(request.path_info):
            return True
        if has_control_characters(request.META.get("HTTP_USER_AGENT", "")):
            return True
        for data in (request.GET, *([request.POST] if request.method == "POST" else [])):
            for key, values in data.lists():
                if has_control_characters(key) or any(map(has_control_characters, values)):
                    return True
        if request.method == "POST" and request.FILES:
            names = [f.name or "" for files in request.FILES.lists() for f in files[1]]
            if any(map(has_control_characters, names)):
                return True
        content_type = request.content_type or ""
        if request.method in ("POST", "PUT", "PATCH") and content_type in _JSON_TYPES:
            try:
                decoded = json.loads(request.body)
            except ValueError:
                return False  # malformed JSON: the view answers it (400/422)
            return has_control_characters(decoded)
        return False

    @staticmethod
    def _refuse(request: HttpRequest, status: int, message: str) -> HttpResponse:
        logger.info("Refused request to %s: %s (%s)", request.path_info[:200], message, status)
        if request.path_info.startswith("/api/"):
            return JsonResponse({"detail": str(message)}, status=status)
        html = loader.render_to_string(
            "destination/bad_input.html", {"message": message, "status": status}
        )
        return HttpResponse(html, status=status)


class PrivatePagesMiddleware:
    """Pages with personal data (the portal, the GDPR export, a guest's booking management,
    the account and two-factor pages) are sent ``Cache-Control: private, no-store``: no shared
    proxy keeps them and the browser does not store them for the back button on a shared desk
    computer. Chosen by URL namespace and URL name (settings PRIVATE_URL_NAMESPACES,
    PRIVATE_URL_NAMES) and by path prefix (PRIVATE_PATH_PREFIXES)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self._private(request):
            patch_cache_control(response, private=True, no_store=True)
            if "max-age" in response.get("Cache-Control", ""):
                response.headers["Cache-Control"] = ", ".join(
                    part
                    for part in response["Cache-Control"].split(", ")
                    if not part.startswith(("max-age", "public", "s-maxage"))
                )
        return response

    @staticmethod
    def _private(request: HttpRequest) -> bool:
        if request.path_info.startswith(tuple(settings.PRIVATE_PATH_PREFIXES)):
            return True
        match = getattr(request, "resolver_match", None)
        if match is None:
            return False
        if set(match.namespaces) & set(settings.PRIVATE_URL_NAMESPACES):
            return True
        return match.view_name in settings.PRIVATE_URL_NAMES


class ContentSecurityPolicyMiddleware(DjangoContentSecurityPolicyMiddleware):
    """Django's CSP middleware, with one policy per path prefix where a third-party screen
    needs more than SECURE_CSP (SECURE_CSP_BY_PATH: Wagtail 8's page explorer and editor still
    run inline scripts). A view's own ``@csp_override`` still wins."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if not hasattr(response, "_csp_config"):
            for prefix, config in settings.SECURE_CSP_BY_PATH.items():
                if request.path_info.startswith(prefix):
                    response._csp_config = config  # type: ignore[attr-defined]
                    break
        return super().process_response(request, response)
