"""Write the complete subject-access export of a guest (JSON), for the data-protection officer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from destination.models import Guest, User
from destination.services.gdpr import guest_export
from destination.services.merge import guest_resolve_id


def actor_from_email(email: str | None) -> User | None:
    if not email:
        return None
    try:
        return User.objects.get(email__iexact=email.strip())
    except User.DoesNotExist:
        raise CommandError(
            _("No staff account with the email %(email)s.") % {"email": email}
        ) from None


class Command(BaseCommand):
    help = "Export everything held about a guest as JSON (the complete subject-access export)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("guest_id", type=int)
        parser.add_argument("--output", "-o", help="File to write (default: standard output).")
        parser.add_argument("--actor", help="Email of the staff account doing the export (audit).")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = actor_from_email(options["actor"])
        try:
            guest = guest_resolve_id(options["guest_id"])
        except Guest.DoesNotExist:
            raise CommandError(_("No guest #%(id)s.") % {"id": options["guest_id"]}) from None
        if guest.pk != options["guest_id"]:
            self.stderr.write(
                _("Guest #%(id)s was merged into guest #%(survivor)s: exporting that guest.")
                % {"id": options["guest_id"], "survivor": guest.pk}
            )
        data = guest_export(guest=guest, actor=actor)
        text = json.dumps(data, indent=2, ensure_ascii=False)
        if options["output"]:
            Path(options["output"]).write_text(text + "\n", encoding="utf-8")
            self.stderr.write(_("Export written to %(path)s.") % {"path": options["output"]})
        else:
            self.stdout.write(text)
