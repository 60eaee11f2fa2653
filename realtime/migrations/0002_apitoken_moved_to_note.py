"""API tokens moved to the ``note`` app (it owns the API they open): copy them, then drop ours."""

from django.db import migrations


def copy_tokens(apps, schema_editor):
    Old = apps.get_model("realtime", "ApiToken")
    New = apps.get_model("note", "ApiToken")
    New.objects.bulk_create(
        [
            New(
                user_id=t.user_id,
                key_hash=t.key_hash,
                prefix=t.prefix,
                created=t.created,
                last_used=t.last_used,
            )
            for t in Old.objects.all()
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("realtime", "0001_initial"),
        ("note", "0003_apitoken"),
    ]

    operations = [
        migrations.RunPython(copy_tokens, migrations.RunPython.noop),
        migrations.DeleteModel(name="ApiToken"),
    ]
