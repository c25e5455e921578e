"""Episodes: a problem that lasts (a failing check, silent ingestion) is announced when it starts, not at
every evaluation that still sees it, and (for some kinds) once more when it ends.

Each change names the Dagster evaluation record that caused it; a record not newer than the last one applied
is ignored, so replaying evaluations (a tick that crashed before saving its cursor) never reopens anything.
"""

import psycopg2.extensions


def open_episode(cur: psycopg2.extensions.cursor, subject: str, evaluation_id: int) -> int | None:
    """Mark `subject` as failing; its episode number when this opened a new episode, else None."""
    cur.execute(
        "INSERT INTO utilities.alert_episodes AS e (subject, last_evaluation_id) VALUES (%s, %s) "
        "ON CONFLICT (subject) DO UPDATE SET episode = e.episode + 1, opened_at = now(), closed_at = NULL, "
        "last_evaluation_id = excluded.last_evaluation_id "
        "WHERE e.closed_at IS NOT NULL AND e.last_evaluation_id < excluded.last_evaluation_id "
        "RETURNING episode",
        (subject, evaluation_id),
    )
    row = cur.fetchone()
    return row[0] if row else None


def close_episode(cur: psycopg2.extensions.cursor, subject: str, evaluation_id: int) -> int | None:
    """Mark `subject` as healthy again; the number of the episode this closed, else None."""
    cur.execute(
        "UPDATE utilities.alert_episodes SET closed_at = now(), last_evaluation_id = %s "
        "WHERE subject = %s AND closed_at IS NULL AND last_evaluation_id < %s RETURNING episode",
        (evaluation_id, subject, evaluation_id),
    )
    row = cur.fetchone()
    return row[0] if row else None
