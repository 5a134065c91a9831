"""The complete subject-access export becomes a permission held by a "Data protection officer"
group (rather than superuser only): operators add the officer's account to the group."""

from django.db import migrations

DPO_GROUP = "Data protection officer"
CODENAME = "export_complete_guest_data"


def dpo_group_create(apps, schema_editor):
    # Permissions are created after migrate (post_migrate): make this one now, as that would.
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    content_type, _ = ContentType.objects.get_or_create(app_label="destination", model="guest")
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type,
        codename=CODENAME,
        defaults={"name": "Can export everything held about a guest (subject-access request)"},
    )
    group, _ = Group.objects.get_or_create(name=DPO_GROUP)
    group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("destination", "0008_linkage_model"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="guest",
            options={
                "permissions": [
                    (
                        "export_complete_guest_data",
                        "Can export everything held about a guest (subject-access request)",
                    )
                ],
                "verbose_name": "guest",
                "verbose_name_plural": "guests",
            },
        ),
        migrations.RunPython(dpo_group_create, migrations.RunPython.noop),
    ]
