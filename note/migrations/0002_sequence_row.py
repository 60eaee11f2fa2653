from django.db import migrations


def create_sequence_row(apps, schema_editor):
    NoteSequence = apps.get_model("note", "NoteSequence")
    NoteSequence.objects.get_or_create(pk=1, defaults={"last_id": 0})


class Migration(migrations.Migration):
    dependencies = [("note", "0001_initial")]

    operations = [migrations.RunPython(create_sequence_row, migrations.RunPython.noop)]
