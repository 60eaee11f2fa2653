"""PostgreSQL: the stamp function reads pending notes through their index, whatever
the table's statistics say.

Measured in ``make bench-writes`` on a young table (no ANALYZE yet): the
planner guessed that a tenth of the notes were pending and answered
``EXISTS (SELECT 1 FROM note_note WHERE id < 0)`` with a sequential scan,
4 ms at 25,000 notes and growing with the table, twice per stamp and once
under the stamp's lock, so that every sender queued behind it. The checks now
ask for the newest pending ticket (the order of the ``note_pending`` index,
which no sequential scan can answer cheaply), and the function runs with
``enable_seqscan`` off: every statement in it has an index to use (the pending
index, the primary keys), and a wrong guess must not turn the stamp into a
scan of every note ever sent. Same results as migration 0007's function
(``tests/note/test_stamping.py`` holds both paths equal).
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION note_stamp_pending(page integer, stamp_time timestamptz)
RETURNS TABLE (ticket bigint, note_id bigint)
LANGUAGE plpgsql VOLATILE
SET enable_seqscan = off
AS $$
DECLARE
    last bigint;
    stamped bigint;
BEGIN
    -- Nothing pending (a stamp that started after this sender's commit took
    -- its notes too): done, with no lock and no write, so no commit to flush.
    PERFORM 1 FROM note_note WHERE id < 0 ORDER BY id DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- Stamps queue here, on a lock that writes nothing: one that finds
    -- nothing left when its turn comes commits without a WAL flush.
    PERFORM pg_advisory_xact_lock(7263531426014);
    PERFORM 1 FROM note_note WHERE id < 0 ORDER BY id DESC LIMIT 1;
    IF NOT FOUND THEN
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


def create_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def restore_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        from importlib import import_module

        schema_editor.execute(import_module("note.migrations.0007_note_stamp_function").CREATE)


class Migration(migrations.Migration):
    dependencies = [("note", "0012_webhooks")]

    operations = [migrations.RunPython(create_function, restore_function, atomic=False)]
