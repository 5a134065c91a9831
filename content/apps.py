from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save

from destination import registry


class ContentConfig(AppConfig):
    name = "content"

    def ready(self) -> None:
        # Models load after the AppConfig classes: these modules import them.
        from content import signals  # noqa: PLC0415  models load after apps
        from content.gdpr import (  # noqa: PLC0415  models load after apps
            newsletter_signups_erase,
            newsletter_signups_export,
        )
        from content.models import (  # noqa: PLC0415  models load after apps
            LegalFooter,
            PartnerPage,
            WebsiteTexts,
            legal_footers_forget,
        )
        from content.selectors import brand_name_forget  # noqa: PLC0415  models load after apps
        from destination.models import Destination  # noqa: PLC0415  models load after apps
        from partners.models import Membership  # noqa: PLC0415  models load after apps

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
