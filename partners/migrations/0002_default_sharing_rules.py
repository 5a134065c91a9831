"""The default sharing rules: a partner that does not know a guest sees only enough to tell two
people apart; one that served them sees their contact details; one the guest agreed to share the
profile with sees the destination's shared story. The tourist office stewards the shared data."""

from django.db import migrations

UNRELATED = ["identity", "demographics", "contact_hint"]
RELATED = [
    "identity",
    "demographics",
    "birth_date",
    "contact",
    "interests",
    "household",
    "consents",
]
CONSENTED = [*RELATED, "shared_interactions", "bookings", "messages"]
STEWARD = CONSENTED

RULES = [
    ("unrelated", "", UNRELATED),
    ("related", "", RELATED),
    ("consented", "", CONSENTED),
    ("unrelated", "tourist_office", STEWARD),
    ("related", "tourist_office", STEWARD),
    ("consented", "tourist_office", STEWARD),
]


def create_rules(apps, schema_editor):
    SharingRule = apps.get_model("partners", "SharingRule")
    for level, kind, sections in RULES:
        SharingRule.objects.update_or_create(
            level=level, partner_kind=kind, defaults={"sections": sections}
        )


def delete_rules(apps, schema_editor):
    apps.get_model("partners", "SharingRule").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("partners", "0001_initial")]

    operations = [migrations.RunPython(create_rules, delete_rules)]
