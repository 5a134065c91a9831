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

        # Journeys: booking events enrol, exit and move; a confirmed subscription welcomes.
        from content.models import NewsletterSignup
        from newsletters import journeys
        from newsletters.outbox import booking_event_handler_register

        kinds = BookingEvent.Kind
        booking_event_handler_register([kinds.CONFIRMED], journeys.on_booking_confirmed)
        booking_event_handler_register(journeys.EXIT_KINDS, journeys.on_booking_off)
        if journeys.DATES_CHANGED in kinds.values:  # not written by bookings yet
            booking_event_handler_register(
                [journeys.DATES_CHANGED], journeys.on_booking_dates_changed
            )
        post_save.connect(
            journeys.on_signup_saved, sender=NewsletterSignup, dispatch_uid="newsletters-welcome"
        )
        from destination.registry import register_merge_handler
        from newsletters.models import Enrolment

        register_merge_handler(Enrolment, journeys.enrolments_merge)
        register_guest_exporter("journeys", journeys.journeys_export)
        register_guest_eraser(journeys.enrolments_erase)

        # Booking emails: the consumer "booking_emails" turns outbox events into messages.
        from newsletters.booking_emails import booking_emails_register

        booking_emails_register()

        # Bounces and complaints from the provider's tracking webhooks (django-anymail).
        from anymail.signals import tracking

        from newsletters.bounces import tracking_event_received

        tracking.connect(tracking_event_received, dispatch_uid="newsletters-bounces")

        # Newsletter pages are emails named "newsletter:<revision id>" (newsletters.pages).
        from newsletters.pages import SOURCE_PREFIX, newsletter_revision_source
        from newsletters.rendering import email_source_register

        email_source_register(SOURCE_PREFIX, newsletter_revision_source)
