from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from newsletters.journey_seed import journeys_demo_create


class Command(BaseCommand):
    help = "Create the demo journeys (stay, welcome series, reactivation) that do not exist."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--inactive", action="store_true", help="Create them switched off.")

    def handle(self, *args: Any, **options: Any) -> None:
        created = journeys_demo_create(active=not options["inactive"])
        self.stdout.write(
            f"{len(created)} journey(s) created: {', '.join(j.slug for j in created)}"
        )
