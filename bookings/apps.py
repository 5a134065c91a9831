from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from destination.registry import register_guest_eraser, register_guest_exporter


class BookingsConfig(AppConfig):
    name = "bookings"
    verbose_name = _("Bookings")

    def ready(self) -> None:
        from bookings.gdpr import bookings_erase, bookings_export  # noqa: PLC0415  models load after apps

        # Merge needs no handler: bookings and participants have no unique constraint on the
        # guest, so the generic move (foreign keys found by introspection) takes them along.
        register_guest_exporter("bookings", bookings_export)
        register_guest_eraser(bookings_erase)
