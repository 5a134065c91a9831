from django.apps import AppConfig
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from partners.nav import nav_register


def _is_steward(request: HttpRequest) -> bool:
    partner = getattr(request, "partner", None)
    return partner is not None and partner.is_steward


class PortalConfig(AppConfig):
    """The portal's guest pages (search, the guest's 360° page, creation, the duplicates queue)
    on top of the staff shell of ``partners`` (``partners.shell``, ``partners.nav``)."""

    name = "portal"
    label = "portal"
    verbose_name = _("Partner portal")

    def ready(self) -> None:
        # The portal's own screens join the shell's navigation like the booking desk's do.
        nav_register("search", _("Guests"), "portal:home", order=10)
        nav_register("guest_create", _("New guest"), "portal:guest_create", order=20)
        nav_register(
            "duplicates",
            _("Possible duplicates"),
            "portal:duplicates",
            order=40,
            is_visible=_is_steward,
        )
