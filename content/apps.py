from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class ContentConfig(AppConfig):
    name = "content"

    def ready(self) -> None:
        from content import signals
        from content.models import LegalFooter, PartnerPage, WebsiteTexts, legal_footers_forget
        from content.newsletter import newsletter_signups_erase, newsletter_signups_export
        from content.selectors import brand_name_forget
        from destination import registry
        from destination.models import Destination
        from partners.models import Membership

        # Confirmed signups belong to a guest: the GDPR export shows them, erasure removes them.
        registry.register_guest_exporter("newsletter_signups", newsletter_signups_export)
        registry.register_guest_eraser(newsletter_signups_erase)

        for model in (WebsiteTexts, LegalFooter):
            post_save.connect(legal_footers_forget, sender=model, dispatch_uid=f"lf-{model}")
            post_delete.connect(legal_footers_forget, sender=model, dispatch_uid=f"lfd-{model}")
        # Wagtail's admin shows the brand name from a cache: a renamed brand shows at once.
        post_save.connect(brand_name_forget, sender=Destination, dispatch_uid="content-brand")
        post_save.connect(signals.partner_page_saved, sender=PartnerPage, dispatch_uid="content-pp")
        post_save.connect(signals.membership_changed, sender=Membership, dispatch_uid="content-m")
        post_delete.connect(
            signals.membership_changed, sender=Membership, dispatch_uid="content-md"
        )
