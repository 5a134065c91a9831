from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = _("Partners")

    def ready(self) -> None:
        # Imported here, not at the top: models are not loaded when AppConfig classes are.
        from destination import registry
        from partners import gdpr
        from partners.access import staff_home_url
        from partners.models import PartnerGuestLink

        registry.register_guest_exporter(
            "interactions", gdpr.interactions_export, after="consent_states"
        )
        registry.register_guest_exporter(
            "partner_relationships", gdpr.partner_links_export, after="timeline"
        )
        registry.register_guest_erasure_counter("interactions", gdpr.interactions_count)
        registry.register_guest_eraser(gdpr.interactions_erase)
        registry.register_merge_handler(PartnerGuestLink, gdpr.partner_links_merge)
        registry.register_partner_export(gdpr.partner_scoped_export)
        registry.register_export_partner(gdpr.export_partner_for)
        registry.register_staff_home(staff_home_url)
