"""The staff shell: which partner a staff member acts for in the portal.

A staff member may belong to several partners (the booking desk and the tourist office...). The
partner they act for is kept in the session; with one membership there is nothing to pick.
``portal_view`` guards every portal view, the guest pages' (``portal``) as the booking desk's and
the catalogue's: signed in, an active membership of an active partner, and ``request.partner`` /
``request.membership`` set for the view and its templates. Views type their request as
``PortalRequest`` (``PickerRequest`` under ``portal_view(pick=False)``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, cast, overload

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest
from django.shortcuts import redirect, render
from django.urls import reverse, translate_url
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django_htmx.http import HttpResponseClientRedirect

from partners.models import Membership, Partner

if TYPE_CHECKING:
    from django.http import HttpResponse
    from django_htmx.middleware import HtmxDetails

    from destination.models import User

SESSION_KEY = "portal_partner_id"
# Set once the remembered language has been applied in this session (see ``portal_view``).
LANGUAGE_APPLIED_KEY = "portal_language_applied"


class PickerRequest(HttpRequest):
    """A request inside ``portal_view(pick=False)``: signed in with at least one membership, the
    acting partner perhaps not chosen yet."""

    user: User
    htmx: HtmxDetails
    memberships: list[Membership]
    membership: Membership | None
    partner: Partner | None


class PortalRequest(HttpRequest):
    """A request inside ``portal_view``: the staff member acts for ``partner`` through
    ``membership`` (an active membership of an active partner)."""

    user: User
    htmx: HtmxDetails
    memberships: list[Membership]
    membership: Membership
    partner: Partner


def memberships_for(user: User) -> list[Membership]:
    """The user's active memberships of active partners, by partner name: one query."""
    return list(
        Membership.objects.active()
        .filter(user=user)
        .select_related("partner")
        .order_by("partner__name", "partner_id")
    )


def acting_membership(request: HttpRequest, memberships: list[Membership]) -> Membership | None:
    """The membership chosen in this session, the only one there is, or None (pick first)."""
    chosen = request.session.get(SESSION_KEY)
    for membership in memberships:
        if membership.partner_id == chosen:
            return membership
    if len(memberships) == 1:
        return memberships[0]
    return None


def acting_partner_set(request: HttpRequest, membership: Membership) -> None:
    request.session[SESSION_KEY] = membership.partner_id


def safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    # A path only: redirect() would read "0" or "home" as a view name and fail on it.
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@overload
def portal_view[V: Callable[..., HttpResponse]](view: V, *, pick: bool = True) -> V: ...


@overload
def portal_view[V: Callable[..., HttpResponse]](
    view: None = None, *, pick: bool = True
) -> Callable[[V], V]: ...


def portal_view(view: Callable[..., HttpResponse] | None = None, *, pick: bool = True) -> Any:
    """Decorate a portal view: login required, an active membership required (403 page
    otherwise), the acting partner chosen (redirect to the picker when several and none is
    chosen, unless ``pick=False``). Sets ``request.memberships``, ``request.membership`` and
    ``request.partner``."""

    def decorate(func: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(func)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                response = redirect_to_login(request.get_full_path())
                if getattr(request, "htmx", False):
                    # A fragment request after the session expired: reload the whole page on
                    # the sign-in screen rather than swapping it into a corner of the page.
                    return HttpResponseClientRedirect(response["Location"])
                return response
            # Signed in: from here on the request becomes the shell's (see PickerRequest).
            shell_request = cast(PickerRequest, request)
            memberships = memberships_for(shell_request.user)
            if not memberships:
                return render(request, "portal/no_membership.html", status=403)
            shell_request.memberships = memberships
            membership = acting_membership(request, memberships)
            shell_request.membership = membership
            shell_request.partner = membership.partner if membership else None
            if membership is None and pick:
                url = reverse("portal:pick")
                return redirect(f"{url}?{urlencode({'next': request.get_full_path()})}")
            # The staff member's language is remembered on their account: the first portal page
            # of a session (the sign-in redirect, a bookmark) opens in it. After that a page
            # asked for in a language stays in it (an /en/ link a colleague sent, typing /en/):
            # the switch in the top bar is what changes the remembered language.
            preferred = getattr(request.user, "language", "")
            if (
                preferred
                and request.method == "GET"
                and not getattr(request, "htmx", False)
                and not request.session.get(LANGUAGE_APPLIED_KEY)
            ):
                request.session[LANGUAGE_APPLIED_KEY] = True
                if preferred != translation.get_language():
                    target = translate_url(request.get_full_path(), preferred)
                    if target != request.get_full_path():
                        return redirect(target)
            return func(request, *args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate
