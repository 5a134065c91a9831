from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse


class AccountAdapter(DefaultAccountAdapter):
    """Staff accounts are created by partner managers; public self-signup is off unless enabled."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return bool(getattr(settings, "ACCOUNT_ALLOW_SIGNUPS", False))

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        """Partner staff land on the portal after signing in; visitors (who have accounts for
        their bookings) keep ``LOGIN_REDIRECT_URL``. allauth only asks when the sign-in carries
        no ``?next=``, so an explicit destination still wins."""
        from partners.models import Membership

        user = request.user
        if (
            user.is_authenticated
            and Membership.objects.filter(
                user_id=user.pk, is_active=True, partner__is_active=True
            ).exists()
        ):
            return reverse("portal:home")
        return super().get_login_redirect_url(request)
