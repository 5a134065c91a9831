from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from destination import registry


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = _("Partners")

    def ready(self) -> None:
        from partners import demo, gdpr  # noqa: PLC0415  models load after AppConfig classes
        from partners.access import staff_home_url  # noqa: PLC0415  models load after apps
        from partners.models import PartnerGuestLink  # noqa: PLC0415  models load after apps

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
        # seed_demo: partners and staff before the guests, interactions after the consents.
        registry.register_demo_seeder(
            "partners", demo.demo_partners_seed, order=20, summary=demo.demo_partners_summary
        )
        registry.register_demo_seeder(
            "interactions",
            demo.demo_interactions_seed,
            order=80,
            summary=demo.demo_interactions_summary,
        )
