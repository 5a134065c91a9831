"""The default sharing rules now live in code (partners.sharing); this writes them the same way
0002 did, so a database migrated either way holds the same rules."""

from django.db import migrations


def ensure(apps, schema_editor):
    from partners.sharing import sharing_rules_ensure  # noqa: PLC0415  (app code, loaded when run)

    sharing_rules_ensure(model=apps.get_model("partners", "SharingRule"))


class Migration(migrations.Migration):
    dependencies = [("partners", "0003_partner_api_key")]

    operations = [migrations.RunPython(ensure, migrations.RunPython.noop)]
