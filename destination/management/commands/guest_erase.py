"""Erase (anonymise) a guest on a GDPR request. Irreversible."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from destination.management.commands.guest_export import actor_from_email
from destination.models import Guest
from destination.services import GuestError
from destination.services.gdpr import guest_erase


class Command(BaseCommand):
    help = "Erase a guest's personal data everywhere (GDPR). Irreversible."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("guest_id", type=int)
        parser.add_argument("--reason", required=True, help="Why (kept in the audit log).")
        parser.add_argument("--actor", help="Email of the staff account doing it (audit).")
        parser.add_argument(
            "--yes", action="store_true", help="Do not ask for confirmation (scripts)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        actor = actor_from_email(options["actor"])
        try:
            guest = Guest.objects.get(pk=options["guest_id"])
        except Guest.DoesNotExist:
            raise CommandError(_("No guest #%(id)s.") % {"id": options["guest_id"]}) from None
        if not options["yes"]:
            answer = input(
                _("Erase guest #%(id)s for good? Type “yes” to confirm: ") % {"id": guest.pk}
            )
            if answer.strip().lower() != "yes":
                raise CommandError(_("Nothing erased."))
        try:
            guest_erase(guest=guest, actor=actor, reason=options["reason"])
        except GuestError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(_("Guest #%(id)s erased.") % {"id": guest.pk})
