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
    -- Nothing pending (a stamp that started after this sender's commit took
    -- its notes too): done, with no lock and no write, so no commit to flush.
    IF NOT EXISTS (SELECT 1 FROM note_note WHERE id < 0) THEN
        RETURN;
    END IF;
    -- Stamps queue here, on a lock that writes nothing: one that finds
    -- nothing left when its turn comes commits without a WAL flush.
    PERFORM pg_advisory_xact_lock(7263531426014);
    IF NOT EXISTS (SELECT 1 FROM note_note WHERE id < 0) THEN
        RETURN;
    END IF;
    SELECT s.last_id INTO last FROM note_notesequence s WHERE s.id = 1 FOR UPDATE;
    IF last IS NULL THEN
        -- No sequence row (a flushed test database): one row of NULLs says so,
        -- and the caller makes it and calls again.
        RETURN QUERY SELECT NULL::bigint, NULL::bigint;
        RETURN;
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
    dependencies = [("note", "0006_pending_index")]

    operations = [migrations.RunPython(create_function, drop_function, atomic=False)]
