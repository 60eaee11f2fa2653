"""The lock-free source of pending notes' tickets (issue 14), where the database has one.

PostgreSQL and MariaDB (10.3+) have sequences: taking a value locks nothing
until the transaction ends. Elsewhere (SQLite, MySQL) notes take their ids
inside the sending transaction, as before, and need no sequence. Spelled out
here rather than imported, so that this migration stays what it was when the
code around it changes (``note.stamping`` names the same sequence).
"""

from django.db import migrations


def _has_sequences(connection) -> bool:
    return connection.vendor == "postgresql" or (
        connection.vendor == "mysql" and connection.mysql_is_mariadb
    )


def create_ticket_sequence(apps, schema_editor):
    if _has_sequences(schema_editor.connection):
        schema_editor.execute("CREATE SEQUENCE note_ticket_seq")


def drop_ticket_sequence(apps, schema_editor):
    if _has_sequences(schema_editor.connection):
        schema_editor.execute("DROP SEQUENCE note_ticket_seq")


class Migration(migrations.Migration):
    dependencies = [("note", "0004_token_expiry_tickets_credential_changes")]

    operations = [migrations.RunPython(create_ticket_sequence, drop_ticket_sequence, atomic=False)]
