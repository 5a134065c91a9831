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

        # Newsletter pages are emails named "newsletter:<revision id>" (newsletters.pages).
        from newsletters.pages import SOURCE_PREFIX, newsletter_revision_source
        from newsletters.rendering import email_source_register

        email_source_register(SOURCE_PREFIX, newsletter_revision_source)
