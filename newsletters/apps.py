from anymail.signals import tracking
from django.apps import AppConfig
from django.db.models.signals import post_save
from django.utils.translation import gettext_lazy as _

from destination.registry import (
    register_guest_eraser,
    register_guest_exporter,
    register_merge_handler,
    register_signup_form,
)


class NewslettersConfig(AppConfig):
    name = "newsletters"
    verbose_name = _("Newsletters")

    def ready(self) -> None:
        # Models load after the AppConfig classes: these modules import them.
        from bookings.models import BookingEvent  # noqa: PLC0415  models load after apps
        from destination.models import Destination  # noqa: PLC0415  models load after apps
        from newsletters import (  # noqa: PLC0415  models load after apps
            booking_emails,
            bounces,
            journeys,
            outbox,
            pages,
            rendering,
            services,
            signup_views,
            tracking_record,
        )
        from newsletters.models import Enrolment  # noqa: PLC0415  models load after apps

        post_save.connect(
            rendering.brand_forget, sender=Destination, dispatch_uid="newsletters-brand"
        )

        # Merge needs no handler: Message has no unique constraint on the guest, so the generic
        # move takes a merged guest's messages along.
        register_guest_exporter("messages", services.messages_export)
        register_guest_eraser(services.messages_erase)
        register_guest_exporter("email_tracking", tracking_record.tracking_hits_export)
        register_guest_eraser(tracking_record.tracking_hits_erase)

        # The bookings outbox: consumed soon after each booking commit (and by the beat tick).
        post_save.connect(
            outbox.booking_event_saved, sender=BookingEvent, dispatch_uid="newsletters-outbox"
        )

        # Journeys: booking events enrol, exit and move (a confirmed subscription welcomes: the
        # signup's confirmation calls journey_subscription_enrol itself).
        kinds = BookingEvent.Kind
        outbox.booking_event_handler_register([kinds.CONFIRMED], journeys.on_booking_confirmed)
        outbox.booking_event_handler_register(journeys.EXIT_KINDS, journeys.on_booking_off)
        if journeys.DATES_CHANGED in kinds.values:  # not written by bookings yet
            outbox.booking_event_handler_register(
                [journeys.DATES_CHANGED], journeys.on_booking_dates_changed
            )
        register_merge_handler(Enrolment, journeys.enrolments_merge)
        register_guest_exporter("journeys", journeys.journeys_export)
        register_guest_eraser(journeys.enrolments_erase)

        # Booking emails: the consumer "booking_emails" turns outbox events into messages.
        booking_emails.booking_emails_register()

        # Bounces and complaints from the provider's tracking webhooks (django-anymail).
        tracking.connect(bounces.tracking_event_received, dispatch_uid="newsletters-bounces")

        # The signup form in the content pages' footer and signup blocks (newsletters.signup).
        register_signup_form(signup_views.signup_form_render)

        # Newsletter pages are emails named "newsletter:<revision id>" (newsletters.pages).
        rendering.email_source_register(pages.SOURCE_PREFIX, pages.newsletter_revision_source)
