"""Batch files whose names are not valid UTF-8: recorded as quarantined under their escaped name.

An SMB client may write `K\\xe4se.csv` (Latin-1 bytes); Python reads the name with a surrogate for the bad byte,
which psycopg2 cannot encode. Sent in the file sensor's one query it failed every tick, and no file loaded.
Such a name is never sent as it is: the file is recorded under its escaped name (printable, valid UTF-8, and
never a valid batch id, since it holds a backslash), so `etl status` lists it and the quarantine alert announces
it once per version, while every other file loads.
"""

from __future__ import annotations

import psycopg2.extensions

from etl_project.store.processed_files import record_undecodable_name

#: The reason recorded for such a file (after its escaped name).
UNDECODABLE_NAME_REASON = (
    "the file name is not valid UTF-8 (the bytes shown as \\xNN); it is not loaded: rename it to a UTF-8 name "
    "(<batch_id>.csv) and it loads as a new file"
)


def record_undecodable_names(
    conn: psycopg2.extensions.connection, files: list[tuple[str, int, int]]
) -> list[str]:
    """Record each (escaped name, size, mtime) as quarantined unless this version is recorded already;
    returns the names newly recorded (an unchanged file is recorded once, so it is announced once)."""
    recorded = []
    with conn, conn.cursor() as cur:
        for escaped_name, size, mtime_ns in files:
            error = f"{escaped_name}: {UNDECODABLE_NAME_REASON}"
            if record_undecodable_name(cur, escaped_name, size, mtime_ns, error):
                recorded.append(escaped_name)
    return recorded
