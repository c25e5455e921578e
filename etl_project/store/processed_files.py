"""Everything about `utilities.processed_files`, and the platform's advisory-lock ids.

`utilities.processed_files` has one row per batch file the platform has seen: loaded (with its raw_id range,
`raw_id_base`, and the size and modification time that identify the version loaded), quarantined with the
reason it could not be read, or dropped (a quarantined file someone gave up on: that version is never loaded). The loader writes it in the load's transaction; the replay of late data corrects
its counts; the file sensor and the retention sensor read it through the functions below.

A load and a replay of the same batch queue on the batch's advisory lock (`lock_batch`), so they never
interleave; the lock ids of the migrations and of a load's staging tables live here too, so that no two
features ever pick the same one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import psycopg2.extensions

from etl_project.loading.report import BatchLoadReport

#: What the ledger says of a file: loaded (its rows are in the tables), quarantined (the version last seen could
#: not be loaded; an earlier version's rows may still be), dropped (a quarantined version someone gave up on).
FileStatus = Literal["loaded", "quarantined", "dropped"]

#: Advisory lock of "applying schema migrations" (one key).
MIGRATION_LOCK_ID = 7_301_001
#: Advisory-lock class of "loading a batch"; the second key is the hash of the batch id.
BATCH_LOCK_CLASS = 7_301_002
#: Advisory-lock class of "a load's staging tables are in use"; the second key is the load number.
STAGING_LOCK_CLASS = 7_301_003
#: Advisory lock of "refreshing store_daily_sales" (one key): refreshes run one at a time.
STORE_DAILY_SALES_REFRESH_LOCK_ID = 7_301_004


def lock_batch(cur: psycopg2.extensions.cursor, batch_id: str) -> None:
    """Two loads of the same batch (sensor and a person in the UI) queue here instead of interleaving."""
    cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (BATCH_LOCK_CLASS, batch_id))


def previous_load(cur: psycopg2.extensions.cursor, batch_id: str) -> tuple[int | None, str] | None:
    """(raw_id_base, status) of the batch's file as recorded, None when the batch was never seen."""
    cur.execute("SELECT raw_id_base, status FROM utilities.processed_files WHERE batch_id = %s", (batch_id,))
    return cur.fetchone()


@dataclass(frozen=True)
class RecordedVersion:
    """What the file sensor reads of a file's record: the version last seen (size, modification time), its
    status, and whether the loaded content's SHA-256 is known (a legacy pipeline's record has none)."""

    size_bytes: int | None
    mtime_ns: int | None
    status: FileStatus
    has_checksum: bool

    def same_version(self, size_bytes: int, mtime_ns: int) -> bool:
        return (self.size_bytes, self.mtime_ns) == (size_bytes, mtime_ns)

    def may_hold_the_loaded_content(self, size_bytes: int) -> bool:
        """Whether a file of `size_bytes` could be the loaded content again (worth hashing)."""
        return self.status == "loaded" and self.has_checksum and self.size_bytes == size_bytes


def loaded_content(cur: psycopg2.extensions.cursor, batch_id: str) -> tuple[str, int] | None:
    """(SHA-256, size) of the batch's loaded file, None when no loaded version has a checksum."""
    cur.execute(
        "SELECT checksum_sha256, size_bytes FROM utilities.processed_files "
        "WHERE batch_id = %s AND status = 'loaded' AND checksum_sha256 IS NOT NULL",
        (batch_id,),
    )
    return cur.fetchone()


def record_seen_again(
    cur: psycopg2.extensions.cursor, batch_id: str, checksum_sha256: str, size_bytes: int, mtime_ns: int
) -> bool:
    """Record that the batch's loaded content was seen again in a file modified at `mtime_ns` (so the file
    sensor takes this version as known). False when the loaded version changed meanwhile."""
    lock_batch(cur, batch_id)
    cur.execute(
        "UPDATE utilities.processed_files SET file_mtime_ns = %s, seen_again = seen_again + 1, "
        "last_seen_at = now() WHERE batch_id = %s AND status = 'loaded' AND checksum_sha256 = %s "
        "AND size_bytes = %s",
        (mtime_ns, batch_id, checksum_sha256, size_bytes),
    )
    return cur.rowcount == 1


def record_file(
    cur: psycopg2.extensions.cursor, report: BatchLoadReport, status: FileStatus, error: str | None
) -> None:
    """Record (or update) the file's row: what the load did, or why the file was quarantined."""
    cur.execute(
        """
        INSERT INTO utilities.processed_files
            (filename, batch_id, status, checksum_sha256, size_bytes, file_mtime_ns,
             rows_read, rows_loaded, rows_rejected, error, raw_id_base)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (filename) DO UPDATE SET
            loaded_at = now(), batch_id = EXCLUDED.batch_id, status = EXCLUDED.status,
            checksum_sha256 = EXCLUDED.checksum_sha256, size_bytes = EXCLUDED.size_bytes,
            file_mtime_ns = EXCLUDED.file_mtime_ns,
            -- a quarantined version leaves the previous load's rows, and so its range, in place
            raw_id_base = coalesce(EXCLUDED.raw_id_base, processed_files.raw_id_base),
            rows_read = EXCLUDED.rows_read, rows_loaded = EXCLUDED.rows_loaded,
            rows_rejected = EXCLUDED.rows_rejected, error = EXCLUDED.error
        """,
        (
            report.filename,
            report.batch_id,
            status,
            report.checksum_sha256 or None,
            report.size_bytes,
            report.file_mtime_ns,
            report.rows_read,
            report.rows_loaded,
            report.rows_rejected,
            error,
            report.raw_id_base,
        ),
    )


def is_loaded(conn: psycopg2.extensions.connection, batch_id: str, path: Path) -> bool:
    """Whether this version of the file (same size and modification time) is already loaded as the batch."""
    stat = path.stat()
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT 1 FROM utilities.processed_files WHERE batch_id = %s AND status = 'loaded' "
            "AND size_bytes = %s AND file_mtime_ns = %s",
            (batch_id, stat.st_size, stat.st_mtime_ns),
        )
        return cur.fetchone() is not None


def record_quarantined(conn: psycopg2.extensions.connection, batch_id: str, path: Path, problem: str) -> None:
    """Record a file that could not be read, with the reason, so people and the sensor can see it."""
    stat = path.lstat() if path.is_file() else None
    report = BatchLoadReport(
        batch_id,
        path.name,
        "",
        stat.st_size if stat else 0,
        0,
        0,
        file_mtime_ns=stat.st_mtime_ns if stat else None,
    )
    with conn, conn.cursor() as cur:
        lock_batch(cur, batch_id)
        record_file(cur, report, status="quarantined", error=problem)


def count_replayed_rows(cur: psycopg2.extensions.cursor, batch_id: str, rows: int) -> None:
    """A replay moved `rows` of the batch from rejected to loaded."""
    cur.execute(
        "UPDATE utilities.processed_files SET rows_loaded = rows_loaded + %s, "
        "rows_rejected = rows_rejected - %s WHERE batch_id = %s",
        (rows, rows, batch_id),
    )


def processed_versions(
    conn: psycopg2.extensions.connection, filenames: list[str]
) -> dict[str, RecordedVersion]:
    """What the ledger knows of the listed files already processed, in one query (the file sensor)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT filename, size_bytes, file_mtime_ns, status, checksum_sha256 IS NOT NULL "
            "FROM utilities.processed_files WHERE filename = ANY(%s)",
            (filenames,),
        )
        return {name: RecordedVersion(*rest) for name, *rest in cur.fetchall()}


def batches_loaded_before(conn: psycopg2.extensions.connection, days: int) -> list[str]:
    """Batches loaded successfully more than `days` days ago, oldest first (the retention sensor)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT batch_id FROM utilities.processed_files WHERE status = 'loaded' "
            "AND loaded_at < now() - make_interval(days => %s) ORDER BY loaded_at",
            (days,),
        )
        return [row[0] for row in cur.fetchall()]


@dataclass(frozen=True)
class QuarantinedFile:
    """A batch file recorded as unreadable, with the reason, and whether an earlier version's rows are loaded."""

    batch_id: str
    filename: str
    reason: str
    recorded_at: datetime
    earlier_version_loaded: bool


#: A QuarantinedFile per row.
_SELECT_QUARANTINED = (
    "SELECT batch_id, filename, coalesce(error, ''), loaded_at, raw_id_base IS NOT NULL "
    "FROM utilities.processed_files WHERE status = 'quarantined'"
)


def quarantined_files(conn: psycopg2.extensions.connection) -> list[QuarantinedFile]:
    """Every file currently quarantined, oldest first."""
    with conn, conn.cursor() as cur:
        cur.execute(_SELECT_QUARANTINED + " ORDER BY loaded_at, batch_id")
        return [QuarantinedFile(*row) for row in cur.fetchall()]


def record_dropped(conn: psycopg2.extensions.connection, batch_id: str) -> QuarantinedFile | None:
    """Mark the batch's quarantined file as dropped; None when the batch is not quarantined.

    The record keeps the file's size and modification time, so the file sensor never loads this version again
    but does load a changed one. A batch still holding an earlier version's rows is not dropped (the caller
    says why): dropping it would either leave rows without a partition or delete data nobody asked to delete.
    """
    with conn, conn.cursor() as cur:
        lock_batch(cur, batch_id)
        cur.execute(_SELECT_QUARANTINED + " AND batch_id = %s", (batch_id,))
        row = cur.fetchone()
        if row is None:
            return None
        found = QuarantinedFile(*row)
        if not found.earlier_version_loaded:
            cur.execute(
                "UPDATE utilities.processed_files SET status = 'dropped', loaded_at = now() "
                "WHERE batch_id = %s AND status = 'quarantined'",
                (batch_id,),
            )
        return found
