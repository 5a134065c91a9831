"""Middleware of the shared core."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation


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
