"""The open pixel and the click redirector, written against a recorder protocol so that the
sending pipeline wires them to its models without these views knowing them.

- ``open_pixel`` always answers the same 1x1 transparent GIF (200, ``Cache-Control: no-store``,
  no cookie): a bad token gets the GIF too, and nothing is recorded for it.
- ``click_redirect`` answers 302 to the signed URL for GET and HEAD (a HEAD is recorded, as a
  machine), 400 for a token we did not sign, 405 for other methods; never a 500, whatever the
  input, and never a redirect to a URL that is not in a token we signed.
- Recording never breaks the answer: a recorder that raises is logged and the person still gets
  their page.

Wiring (in ``newsletters/urls.py``)::

    urlpatterns += tracking_urlpatterns(recorder=MessageHitRecorder())
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from destination.http import client_ip
from newsletters.tracking import (
    CLICK_PATH,
    OPEN_PATH,
    Classification,
    HitKind,
    RawHit,
    TrackingTokenError,
    click_target,
    hit_classify,
    hit_with_send_time,
    open_target,
    tracking_policy,
)

logger = logging.getLogger(__name__)

# The smallest transparent GIF (43 bytes).
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
USER_AGENT_MAX = 512


@runtime_checkable
class HitRecorder(Protocol):
    """What the pipeline implements (one object, e.g. ``newsletters.services``)."""

    def message_sent_at(self, message_ref: str) -> datetime | None:
        """When the message was handed to the mail server; None if unknown (erased, never sent)."""

    def recent_hits_for_message(self, message_ref: str, *, since: datetime) -> Sequence[RawHit]:
        """The message's click hits at or after ``since`` (the classifier's context)."""

    def record_hit(self, hit: RawHit, classification: Classification) -> None:
        """Keep the raw hit and its verdict, applying ``tracking.hit_use``."""


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store, max-age=0"
    response["Pragma"] = "no-cache"
    response["X-Robots-Tag"] = "noindex, nofollow"
    # The token must not travel to the destination site in a Referer header.
    response["Referrer-Policy"] = "no-referrer"
    return response


def _hit(
    request: HttpRequest,
    *,
    kind: HitKind,
    message_ref: str,
    link_index: int | None,
    url: str = "",
) -> RawHit:
    agent = request.META.get("HTTP_USER_AGENT", "")
    if not isinstance(agent, str):
        agent = ""
    return RawHit(
        kind=kind,
        message_ref=message_ref,
        at=timezone.now(),
        method=(request.method or "").upper(),
        ip=client_ip(request),
        user_agent=agent[:USER_AGENT_MAX],
        link_index=link_index,
        url=url,
    )


def hit_record(*, hit: RawHit, recorder: HitRecorder | None) -> Classification | None:
    """Classify the hit with the recorder's context and hand both to it. Errors are logged, not
    raised: a tracking failure must never cost the reader their page."""
    if recorder is None:
        logger.warning("No tracking recorder is wired; %s hit not recorded.", hit.kind)
        return None
    try:
        hit = hit_with_send_time(hit, recorder.message_sent_at(hit.message_ref))
        since = hit.at - timedelta(seconds=tracking_policy().trap_memory_seconds)
        context = recorder.recent_hits_for_message(hit.message_ref, since=since)
        classification = hit_classify(hit, recent_hits_for_message=context)
        recorder.record_hit(hit, classification)
    except Exception:
        logger.exception("Recording a %s hit failed.", hit.kind)
        return None
    return classification


def _pixel() -> HttpResponse:
    response = HttpResponse(PIXEL_GIF, content_type="image/gif")
    response["Content-Length"] = str(len(PIXEL_GIF))
    return _no_store(response)


@csrf_exempt
def open_pixel(
    request: HttpRequest, token: str, recorder: HitRecorder | None = None
) -> HttpResponse:
    """The open pixel: the same GIF for every request; a GET or HEAD with a good token is
    recorded (HEAD as a machine)."""
    try:
        message_ref = open_target(token)
    except TrackingTokenError:
        return _pixel()
    if request.method in ("GET", "HEAD"):
        hit_record(
            hit=_hit(request, kind=HitKind.OPEN, message_ref=message_ref, link_index=None),
            recorder=recorder,
        )
    return _pixel()


def _bad_link() -> HttpResponse:
    body = format_html(
        '<!doctype html><html><head><meta charset="utf-8"><title>{}</title>'
        '<meta name="viewport" content="width=device-width"></head>'
        "<body><h1>{}</h1><p>{}</p></body></html>",
        _("This link does not work"),
        _("This link does not work"),
        _("This link is incomplete or was changed. Open it again from the email."),
    )
    return _no_store(HttpResponseBadRequest(body, content_type="text/html; charset=utf-8"))


@csrf_exempt
def click_redirect(
    request: HttpRequest, token: str, recorder: HitRecorder | None = None
) -> HttpResponse:
    """302 to the URL inside the signed token; 400 for any other token."""
    if request.method not in ("GET", "HEAD"):
        return _no_store(HttpResponseNotAllowed(["GET", "HEAD"]))
    try:
        target = click_target(token)
    except TrackingTokenError:
        return _bad_link()
    hit_record(
        hit=_hit(
            request,
            kind=HitKind.CLICK,
            message_ref=target.message_ref,
            link_index=target.link_index,
            url=target.url,
        ),
        recorder=recorder,
    )
    return _no_store(HttpResponseRedirect(target.url))


def tracking_urlpatterns(*, recorder: HitRecorder | None) -> list[URLPattern]:
    """The two routes, on the paths ``tracking.click_url`` and ``open_pixel_url`` write."""
    return [
        path(
            OPEN_PATH.replace("{token}", "<str:token>"),
            open_pixel,
            {"recorder": recorder},
            name="tracking_open",
        ),
        path(
            CLICK_PATH.replace("{token}", "<str:token>"),
            click_redirect,
            {"recorder": recorder},
            name="tracking_click",
        ),
    ]
