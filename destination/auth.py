from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.http import HttpRequest

from destination import registry


class AccountAdapter(DefaultAccountAdapter):
    """Staff accounts are created by partner managers; public self-signup is off unless enabled."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return bool(getattr(settings, "ACCOUNT_ALLOW_SIGNUPS", False))

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        """Partner staff land where the app that knows them says (``registry.staff_home``: the
        portal); visitors (who have accounts for their bookings) keep ``LOGIN_REDIRECT_URL``.
        allauth only asks when the sign-in carries no ``?next=``, so an explicit destination
        still wins."""
        home = registry.staff_home()
        url = home(request.user) if home is not None else None  # type: ignore[arg-type]
        return url or super().get_login_redirect_url(request)
