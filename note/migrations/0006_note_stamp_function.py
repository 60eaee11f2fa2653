"""PostgreSQL: the stamp (note.stamping) as one function, so the sequence row is
locked for no network round trip at all: lock, number the pending notes,
move the sequence, all inside one statement of an autocommit transaction.

``tests/note/test_stamping.py`` holds it equal to the Python path, which
MariaDB takes. Spelled out here so that this migration stays what it was.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION note_stamp_pending(page integer, stamp_time timestamptz)
RETURNS TABLE (ticket bigint, note_id bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    last bigint;
    stamped bigint;
BEGIN
    SELECT s.last_id INTO last FROM note_notesequence s WHERE s.id = 1 FOR UPDATE;
    IF last IS NULL THEN
        RETURN;  -- no sequence row: the caller makes one and calls again
    END IF;
    -- A new statement, so a new snapshot (READ COMMITTED): every sender that
    -- committed before the lock was granted is seen here.
    RETURN QUERY
    WITH pending AS (
        SELECT n.id AS old_id, last + row_number() OVER (ORDER BY n.id DESC) AS new_id
        FROM note_note n WHERE n.id < 0 ORDER BY n.id DESC LIMIT page
    ), moved AS (
        UPDATE note_note n SET id = p.new_id, created = stamp_time
        FROM pending p WHERE n.id = p.old_id
        RETURNING p.old_id, p.new_id
    )
    SELECT m.old_id, m.new_id FROM moved m ORDER BY m.new_id;
    GET DIAGNOSTICS stamped = ROW_COUNT;
    IF stamped > 0 THEN
        UPDATE note_notesequence SET last_id = last + stamped WHERE id = 1;
    END IF;
END
$$;
"""

DROP = "DROP FUNCTION IF EXISTS note_stamp_pending(integer, timestamptz)"


def create_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("note", "0005_pending_index")]

    operations = [migrations.RunPython(create_function, drop_function, atomic=False)]
