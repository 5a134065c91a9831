"""Two factors for the staff who can act beyond their own partner.

A tourist office (steward) manager can merge, export and erase any guest; an operator
(``is_staff`` or ``is_superuser``) reaches Django's admin. Their accounts must have a TOTP
authenticator (allauth.mfa, with recovery codes) once their grace period is over: MFA_GRACE_DAYS
counted from the later of the account's creation and MFA_REQUIRED_SINCE (when the requirement
was switched on). Before that they see a notice with the days left when they sign in; after it, every portal
and admin page sends them to the enrolment page, with a message saying why. Other staff are
encouraged by a notice at sign-in, never forced. MFA_REQUIRED_ROLES=false switches the
requirement off.

The verdict is taken at sign-in and kept in the session (no query on each page); it is taken
again when an authenticator is added or removed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from allauth.mfa.models import Authenticator
from allauth.mfa.signals import authenticator_added, authenticator_removed
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from partners.models import Membership, Partner

if TYPE_CHECKING:
    from destination.models import User

SESSION_KEY = "mfa_verdict"


@dataclass(frozen=True)
class MfaVerdict:
    required: bool  # the account's role needs a second factor
    enrolled: bool  # it has a TOTP authenticator
    deadline: dt.datetime | None  # end of the grace period, when required


def mfa_role_requires(user: User) -> bool:
    """Whether the account can act on data beyond its own partner: an operator, or a manager
    of an active tourist office (the steward)."""
    if user.is_superuser or user.is_staff:
        return True
    return (
        Membership.objects.active()
        .filter(
            user_id=user.pk,
            role=Membership.Role.MANAGER,
            partner__kind=Partner.Kind.TOURIST_OFFICE,
        )
        .exists()
    )


def mfa_grace_deadline(user: User) -> dt.datetime:
    start: dt.datetime = user.date_joined
    since = settings.MFA_REQUIRED_SINCE
    if since is not None and since > start:
        start = since
    days: int = settings.MFA_GRACE_DAYS
    return start + dt.timedelta(days=days)


def mfa_verdict(user: User) -> MfaVerdict:
    required = settings.MFA_REQUIRED_ROLES and mfa_role_requires(user)
    enrolled = Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP).exists()
    return MfaVerdict(required, enrolled, mfa_grace_deadline(user) if required else None)


def _verdict_store(request: HttpRequest, user: User, verdict: MfaVerdict) -> None:
    request.session[SESSION_KEY] = {
        "user": user.pk,
        "required": verdict.required,
        "enrolled": verdict.enrolled,
        "deadline": verdict.deadline.isoformat() if verdict.deadline else None,
    }


def _session_verdict(request: HttpRequest) -> MfaVerdict:
    stored = request.session.get(SESSION_KEY)
    if isinstance(stored, dict) and stored.get("user") == request.user.pk:
        deadline = parse_datetime(stored["deadline"]) if stored.get("deadline") else None
        return MfaVerdict(stored["required"], stored["enrolled"], deadline)
    # A session from before this check, or one whose authenticators just changed.
    # Called on signed-in requests only (the middleware checks is_authenticated first).
    user = cast("User", request.user)
    verdict = mfa_verdict(user)
    _verdict_store(request, user, verdict)
    return verdict


def mfa_notice(verdict: MfaVerdict, *, now: dt.datetime) -> str | None:
    """What a staff member without a second factor is told when signing in."""
    if verdict.enrolled:
        return None
    if verdict.required and verdict.deadline is not None:
        days = max(1, -((now - verdict.deadline) // dt.timedelta(days=1)))
        return ngettext(
            "Your role needs a second factor: set up an authenticator app within "
            "%(days)d day (Account, Two-factor authentication).",
            "Your role needs a second factor: set up an authenticator app within "
            "%(days)d days (Account, Two-factor authentication).",
            days,
        ) % {"days": days}
    return _(
        "Protect your account with a second factor: set up an authenticator "
        "app (Account, Two-factor authentication)."
    )


@receiver(user_logged_in)
def _verdict_at_sign_in(
    sender: Any, request: HttpRequest | None = None, user: User | None = None, **kwargs: Any
) -> None:
    """The verdict is taken once, at sign-in (so pages cost no query for it), and staff
    without a second factor are told there, once per session: why and by when, or that it is
    encouraged. A role given during the session counts from the next sign-in."""
    if request is None or user is None or not hasattr(request, "session"):
        return
    if not Membership.objects.filter(user_id=user.pk).exists() and not (
        user.is_staff or user.is_superuser
    ):
        return  # visitors with an account for their bookings: not staff
    verdict = mfa_verdict(user)
    _verdict_store(request, user, verdict)
    notice = mfa_notice(verdict, now=timezone.now())
    if not notice or not hasattr(request, "_messages"):
        return
    if not verdict.required:
        messages.info(request, notice)
    elif verdict.deadline is not None and timezone.now() < verdict.deadline:
        messages.warning(request, notice)
    # Past the deadline, the next page sends them to enrolment and says why.


@receiver(authenticator_added)
@receiver(authenticator_removed)
def _forget_verdict(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        request.session.pop(SESSION_KEY, None)


def _guarded(path: str) -> bool:
    """Portal and admin pages (any language prefix); never the account pages themselves."""
    bare = path
    code = translation.get_language_from_path(path)
    if code:
        bare = path[len(code) + 1 :]
    return bare.startswith(tuple(settings.MFA_GUARDED_PATH_PREFIXES))


class MfaRequiredMiddleware:
    """Sends required, unenrolled staff past their grace period to the TOTP enrolment page.
    After AuthenticationMiddleware and MessageMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not _guarded(request.path_info):
            return self.get_response(request)
        verdict = _session_verdict(request)
        if verdict.enrolled:
            return self.get_response(request)
        if verdict.required and verdict.deadline is not None and timezone.now() >= verdict.deadline:
            messages.warning(
                request,
                _(
                    "Your role can act on every guest's data, so your account needs a second "
                    "factor. Set up an authenticator app to continue."
                ),
            )
            return redirect(reverse("mfa_activate_totp"))
        return self.get_response(request)
