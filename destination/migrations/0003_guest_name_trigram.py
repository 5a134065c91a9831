"""Trigram search on guest names, on PostgreSQL only (SQLite falls back to a LIKE scan)."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

FORWARD = [
    "CREATE INDEX IF NOT EXISTS guest_name_folded_trgm ON destination_guest "
    "USING gin (name_folded gin_trgm_ops)",
]
BACKWARD = ["DROP INDEX IF EXISTS guest_name_folded_trgm"]


def run(statements):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return apply


class Migration(migrations.Migration):
    dependencies = [("destination", "0002_initial")]

    operations = [
        TrigramExtension(),
        migrations.RunPython(run(FORWARD), run(BACKWARD)),
    ]
