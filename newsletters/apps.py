from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NewslettersConfig(AppConfig):
    name = "newsletters"
    verbose_name = _("Newsletters")

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from destination.models import Destination
        from destination.registry import register_guest_eraser, register_guest_exporter
        from newsletters.rendering import brand_forget
        from newsletters.services import messages_erase, messages_export

        post_save.connect(brand_forget, sender=Destination, dispatch_uid="newsletters-brand")

        # Merge needs no handler: Message has no unique constraint on the guest, so the generic
        # move takes a merged guest's messages along.
        register_guest_exporter("messages", messages_export)
        register_guest_eraser(messages_erase)

        # The bookings outbox: consumed soon after each booking commit (and by the beat tick).
        from bookings.models import BookingEvent
        from newsletters.outbox import booking_event_saved

        post_save.connect(
            booking_event_saved, sender=BookingEvent, dispatch_uid="newsletters-outbox"
        )

        # Booking emails: the consumer "booking_emails" turns outbox events into messages.
        from newsletters.booking_emails import booking_emails_register

        booking_emails_register()

        # Bounces and complaints from the provider's tracking webhooks (django-anymail).
        from anymail.signals import tracking

        from newsletters.bounces import tracking_event_received

        tracking.connect(tracking_event_received, dispatch_uid="newsletters-bounces")
