"""manage.py partner_api_key_create SLUG NAME: a new partner API key, printed once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from partners.api_keys import partner_api_key_create
from partners.models import Partner


class Command(BaseCommand):
    help = "Create an API key for a partner and print it (it is shown only this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The partner's slug.")
        parser.add_argument("name", help="What uses the key, e.g. 'Booking engine'.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            partner = Partner.objects.get(slug=options["slug"])
        except Partner.DoesNotExist:
            raise CommandError(
                _("No partner with the slug “%(slug)s”.") % {"slug": options["slug"]}
            ) from None
        row, key = partner_api_key_create(partner=partner, name=options["name"])
        self.stdout.write(
            _("API key “%(name)s” for %(partner)s (prefix %(prefix)s):")
            % {"name": row.name, "partner": partner.name, "prefix": row.prefix}
        )
        self.stdout.write(key)
        self.stdout.write(
            self.style.WARNING(_("Store it now: it is not kept and cannot be shown again."))
        )
