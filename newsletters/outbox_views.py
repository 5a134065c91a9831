"""The demo's outbox: the emails the product sent, for the operator, when they went nowhere
real (the console, file, in-memory or dummy backend: the demo and a laptop).

Each ``Message`` row is listed (to, subject, status, sent at) and its body is shown as it was
built for sending (``message_render``: the same subject, HTML and text, links and all), so the
operator follows a booking's management link or a newsletter confirmation without reading a
log. With a backend that delivers (SMTP, an anymail provider) the pages do not exist (404): real
guests' mail is not a page to browse. Superusers, or staff with ``newsletters.view_message``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET

from newsletters.models import Message
from newsletters.rendering import RenderError
from newsletters.services import message_render

# Backends that keep the mail on this machine: only then is there an outbox to read.
LOCAL_BACKENDS = frozenset(
    {
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.filebased.EmailBackend",
        "django.core.mail.backends.locmem.EmailBackend",
        "django.core.mail.backends.dummy.EmailBackend",
    }
)
PERMISSION = "newsletters.view_message"
PAGE_SIZE = 50


def outbox_available() -> bool:
    """True when every email backend in use keeps the mail local (the demo's console)."""
    backends = {settings.EMAIL_BACKEND, settings.NEWSLETTER_EMAIL_BACKEND or settings.EMAIL_BACKEND}
    return backends <= LOCAL_BACKENDS


def may_read_outbox(user: Any) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or user.has_perm(PERMISSION)))


def _outbox_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """404 with a real backend (whoever asks), then sign-in, then the operator's permission."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not outbox_available():
            raise Http404
        return signed_in(request, *args, **kwargs)

    @login_required
    def signed_in(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not may_read_outbox(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return never_cache(require_GET(wrapped))


@_outbox_view
def outbox_list(request: HttpRequest) -> HttpResponse:
    messages = Message.objects.only(
        "pk", "address", "subject", "status", "sent_at", "created_at", "template", "source"
    ).order_by("-created_at", "-id")
    page = Paginator(messages, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "newsletters/outbox/list.html",
        {"page": page, "backend": settings.EMAIL_BACKEND.rsplit(".", 2)[-2]},
    )


def _rendered(message: Message) -> tuple[Any, str]:
    try:
        return message_render(message)[1], ""
    except RenderError as exc:  # a template changed since: say so rather than fail the page
        return None, str(exc)


@_outbox_view
def outbox_detail(request: HttpRequest, message_id: int) -> HttpResponse:
    message = get_object_or_404(Message, pk=message_id)
    rendered, error = _rendered(message)
    return render(
        request,
        "newsletters/outbox/detail.html",
        {"message": message, "rendered": rendered, "error": error},
    )


@xframe_options_sameorigin
@_outbox_view
def outbox_html(request: HttpRequest, message_id: int) -> HttpResponse:
    """The HTML part alone, for the detail page's frame."""
    message = get_object_or_404(Message, pk=message_id)
    rendered, error = _rendered(message)
    if rendered is None:
        raise Http404(error)
    return HttpResponse(rendered.html, content_type="text/html; charset=utf-8")
