"""Everything about `utilities.processed_files` (the ledger): every query of it is here.

`utilities.processed_files` has one row per batch file the platform has seen: loaded (with its raw_id range,
`raw_id_base`, and the size and modification time that identify the version loaded), quarantined with the
reason it could not be read, or dropped (a quarantined file someone gave up on: that version is never loaded). The loader writes it in the load's transaction; the replay of late data corrects
its counts; the file sensor and the retention sensor read it through the functions below.

A load and a replay of the same batch queue on the batch's advisory lock (`lock_batch`), so they never
interleave (every advisory lock id of the platform is in `etl_project.store.locks`).

A file's state is a `FileStatus`; no other module spells the states in SQL or Python.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final, Literal, Protocol

import psycopg2.extensions

from etl_project.store.locks import BATCH_LOCK_CLASS
from etl_project.store.rows import one_row

#: What the ledger says of a file: loaded (its rows are in the tables), quarantined (the version last seen could
#: not be loaded; an earlier version's rows may still be), dropped (a quarantined version someone gave up on).
FileStatus = Literal["loaded", "quarantined", "dropped"]
LOADED: Final = "loaded"
QUARANTINED: Final = "quarantined"
DROPPED: Final = "dropped"

#: A load numbers its raw events `raw_id_base + file_row`, `raw_id_base` a multiple of this (load number * 2^32):
#: a batch's rows are one raw_id range of this width.
RAW_ID_RANGE = 1 << 32


class FileVersion(Protocol):
    """What the ledger records of a file version (a `BatchLoadReport` is one)."""

    @property
    def batch_id(self) -> str: ...
    @property
    def filename(self) -> str: ...
    @property
    def checksum_sha256(self) -> str: ...
    @property
    def size_bytes(self) -> int: ...
    @property
    def file_mtime_ns(self) -> int | None: ...
    @property
    def rows_read(self) -> int: ...
    @property
    def rows_loaded(self) -> int: ...
    @property
    def rows_rejected(self) -> int: ...
    @property
    def raw_id_base(self) -> int | None: ...
    @property
    def source_etag(self) -> str | None: ...


@dataclass(frozen=True)
class ObjectVersion:
    """One version of a batch's file or bucket object: its size, its modification (last-modified) time, and
    for a bucket object its ETag (None for a file of the shared directory)."""

    size_bytes: int
    mtime_ns: int
    etag: str | None = None


@dataclass(frozen=True)
class UnreadVersion:
    """A file version recorded without a load (quarantined): no rows, no checksum, no raw_id range."""

    batch_id: str
    filename: str
    size_bytes: int
    file_mtime_ns: int | None
    checksum_sha256: str = ""
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    raw_id_base: int | None = None
    source_etag: str | None = None


def lock_batch(cur: psycopg2.extensions.cursor, batch_id: str) -> None:
    """Two loads of the same batch (sensor and a person in the UI) queue here instead of interleaving."""
    cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (BATCH_LOCK_CLASS, batch_id))


def previous_load(cur: psycopg2.extensions.cursor, batch_id: str) -> tuple[int | None, FileStatus] | None:
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
    #: The bucket object's ETag (None: a file of the shared directory).
    etag: str | None = None

    def same_version(self, size_bytes: int, mtime_ns: int, etag: str | None = None) -> bool:
        return (self.size_bytes, self.mtime_ns, self.etag) == (size_bytes, mtime_ns, etag)

    def may_hold_the_loaded_content(self, size_bytes: int) -> bool:
        """Whether a file of `size_bytes` could be the loaded content again (worth hashing)."""
        return self.status == LOADED and self.has_checksum and self.size_bytes == size_bytes


def loaded_content(cur: psycopg2.extensions.cursor, batch_id: str) -> tuple[str, int] | None:
    """(SHA-256, size) of the batch's loaded file, None when no loaded version has a checksum."""
    cur.execute(
        "SELECT checksum_sha256, size_bytes FROM utilities.processed_files "
        "WHERE batch_id = %s AND status = %s AND checksum_sha256 IS NOT NULL",
        (batch_id, LOADED),
    )
    return cur.fetchone()


def record_seen_again(
    cur: psycopg2.extensions.cursor,
    batch_id: str,
    checksum_sha256: str,
    size_bytes: int,
    mtime_ns: int,
    etag: str | None = None,
) -> bool:
    """Record that the batch's loaded content was seen again in a file modified at `mtime_ns` (a bucket object
    also with its `etag`), so the file sensor takes this version as known. False when the loaded version
    changed meanwhile."""
    lock_batch(cur, batch_id)
    cur.execute(
        "UPDATE utilities.processed_files SET file_mtime_ns = %s, source_etag = %s, "
        "seen_again = seen_again + 1, last_seen_at = now() WHERE batch_id = %s AND status = %s "
        "AND checksum_sha256 = %s AND size_bytes = %s",
        (mtime_ns, etag, batch_id, LOADED, checksum_sha256, size_bytes),
    )
    return cur.rowcount == 1


def record_file(
    cur: psycopg2.extensions.cursor, report: FileVersion, status: FileStatus, error: str | None
) -> None:
    """Record (or update) the file's row: what the load did, or why the file was quarantined."""
    cur.execute(
        """
        INSERT INTO utilities.processed_files
            (filename, batch_id, status, checksum_sha256, size_bytes, file_mtime_ns,
             rows_read, rows_loaded, rows_rejected, error, raw_id_base, source_etag)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (filename) DO UPDATE SET
            loaded_at = now(), batch_id = EXCLUDED.batch_id, status = EXCLUDED.status,
            checksum_sha256 = EXCLUDED.checksum_sha256, size_bytes = EXCLUDED.size_bytes,
            file_mtime_ns = EXCLUDED.file_mtime_ns, source_etag = EXCLUDED.source_etag,
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
            report.source_etag,
        ),
    )


def is_loaded(conn: psycopg2.extensions.connection, batch_id: str, version: Path | ObjectVersion) -> bool:
    """Whether this version of the file (same size, modification time and ETag) is already loaded as the batch."""
    if isinstance(version, Path):
        stat = version.stat()
        version = ObjectVersion(stat.st_size, stat.st_mtime_ns)
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT 1 FROM utilities.processed_files WHERE batch_id = %s AND status = %s "
            "AND size_bytes = %s AND file_mtime_ns = %s AND source_etag IS NOT DISTINCT FROM %s",
            (batch_id, LOADED, version.size_bytes, version.mtime_ns, version.etag),
        )
        return cur.fetchone() is not None


def record_quarantined(conn: psycopg2.extensions.connection, batch_id: str, path: Path, problem: str) -> None:
    """Record a file that could not be read, with the reason, so people and the sensor can see it."""
    stat = path.lstat() if path.is_file() else None
    version = ObjectVersion(stat.st_size, stat.st_mtime_ns) if stat else None
    record_quarantined_version(conn, batch_id, path.name, version, problem)


def record_quarantined_version(
    conn: psycopg2.extensions.connection,
    batch_id: str,
    filename: str,
    version: ObjectVersion | None,
    problem: str,
) -> None:
    """Record a version that could not be read (None: there was nothing to read), with the reason."""
    unread = UnreadVersion(
        batch_id,
        filename,
        version.size_bytes if version else 0,
        version.mtime_ns if version else None,
        source_etag=version.etag if version else None,
    )
    with conn, conn.cursor() as cur:
        lock_batch(cur, batch_id)
        record_file(cur, unread, status=QUARANTINED, error=problem)


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
            "SELECT filename, size_bytes, file_mtime_ns, status, checksum_sha256 IS NOT NULL, source_etag "
            "FROM utilities.processed_files WHERE filename = ANY(%s)",
            (filenames,),
        )
        return {name: RecordedVersion(*rest) for name, *rest in cur.fetchall()}


def batches_loaded_before(conn: psycopg2.extensions.connection, days: float) -> list[str]:
    """Batches loaded successfully more than `days` days ago (fractions allowed), oldest first (the retention
    sensor)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT batch_id FROM utilities.processed_files WHERE status = %s "
            "AND loaded_at < now() - %s * interval '1 day' ORDER BY loaded_at",
            (LOADED, days),
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


#: A QuarantinedFile per row (the status is a bound parameter, QUARANTINED).
_SELECT_QUARANTINED = (
    "SELECT batch_id, filename, coalesce(error, ''), loaded_at, raw_id_base IS NOT NULL "
    "FROM utilities.processed_files WHERE status = %s"
)


def quarantined_files(conn: psycopg2.extensions.connection) -> list[QuarantinedFile]:
    """Every file currently quarantined, oldest first."""
    with conn, conn.cursor() as cur:
        cur.execute(_SELECT_QUARANTINED + " ORDER BY loaded_at, batch_id", (QUARANTINED,))
        return [QuarantinedFile(*row) for row in cur.fetchall()]


@dataclass(frozen=True)
class StillQuarantined:
    """How many batches are quarantined now, and the oldest few of them (what a passed readability check names)."""

    count: int
    first: list[str]


def still_quarantined(conn: psycopg2.extensions.connection, names: int = 3) -> StillQuarantined:
    """The batches quarantined now, oldest first: one short scan of a partial index, at any size of the ledger."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) OVER (), batch_id FROM utilities.processed_files WHERE status = %s "
            "ORDER BY loaded_at, batch_id LIMIT %s",
            (QUARANTINED, names),
        )
        rows = cur.fetchall()
    return StillQuarantined(rows[0][0] if rows else 0, [row[1] for row in rows])


def record_dropped(conn: psycopg2.extensions.connection, batch_id: str) -> QuarantinedFile | None:
    """Mark the batch's quarantined file as dropped; None when the batch is not quarantined.

    The record keeps the file's size and modification time, so the file sensor never loads this version again
    but does load a changed one. A batch still holding an earlier version's rows is not dropped (the caller
    says why): dropping it would either leave rows without a partition or delete data nobody asked to delete.
    """
    with conn, conn.cursor() as cur:
        lock_batch(cur, batch_id)
        cur.execute(_SELECT_QUARANTINED + " AND batch_id = %s", (QUARANTINED, batch_id))
        row = cur.fetchone()
        if row is None:
            return None
        found = QuarantinedFile(*row)
        if not found.earlier_version_loaded:
            cur.execute(
                "UPDATE utilities.processed_files SET status = %s, loaded_at = now() "
                "WHERE batch_id = %s AND status = %s",
                (DROPPED, batch_id, QUARANTINED),
            )
        return found


def recorded_batch_ids(conn: psycopg2.extensions.connection) -> set[str]:
    """Every batch id the ledger holds, whatever its status: the stranded-batch sweep compares them with the
    registered partitions. One query of one column, about 0.1 s at 100k files."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT DISTINCT batch_id FROM utilities.processed_files")
        return {row[0] for row in cur.fetchall()}


def newest_filename(conn: psycopg2.extensions.connection) -> str | None:
    """The greatest file name the ledger holds, in byte order (S3's key order); None when it holds none.
    The bucket source lists in full only the keys after it (a scan of the ledger: ~20 ms at 100k files)."""
    with conn.cursor() as cur:
        cur.execute('SELECT max(filename COLLATE "C") FROM utilities.processed_files')
        newest: str | None = one_row(cur)[0]
        return newest


def recorded_status(conn: psycopg2.extensions.connection, batch_id: str) -> FileStatus | None:
    """The status of the batch's record, None when the ledger never saw the batch (the generator asks)."""
    with conn.cursor() as cur:
        cur.execute("SELECT status FROM utilities.processed_files WHERE batch_id = %s LIMIT 1", (batch_id,))
        row = cur.fetchone()
    return row[0] if row else None


def loaded_range(conn: psycopg2.extensions.connection, batch_id: str) -> tuple[str, int, int] | None:
    """(filename, raw_id_base, rows_read) of the batch's loaded version, None when no load of it is recorded
    with a raw_id range (never loaded, or loaded by the legacy pipeline)."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT filename, raw_id_base, rows_read FROM utilities.processed_files "
            "WHERE batch_id = %s AND status = %s AND raw_id_base IS NOT NULL",
            (batch_id, LOADED),
        )
        return cur.fetchone()


def record_undecodable_name(
    cur: psycopg2.extensions.cursor, escaped_name: str, size: int, mtime_ns: int, error: str
) -> bool:
    """Record a file whose name is not UTF-8 as quarantined under its escaped name, unless this version is
    recorded already; True when newly recorded (so an unchanged file is announced once)."""
    cur.execute(
        """
        INSERT INTO utilities.processed_files
            (filename, batch_id, status, size_bytes, file_mtime_ns, rows_read, rows_loaded,
             rows_rejected, error)
        VALUES (%(name)s, %(batch)s, %(status)s, %(size)s, %(mtime)s, 0, 0, 0, %(error)s)
        ON CONFLICT (filename) DO UPDATE SET
            loaded_at = now(), status = EXCLUDED.status, size_bytes = EXCLUDED.size_bytes,
            file_mtime_ns = EXCLUDED.file_mtime_ns, error = EXCLUDED.error
        WHERE (processed_files.size_bytes, processed_files.file_mtime_ns)
            IS DISTINCT FROM (EXCLUDED.size_bytes, EXCLUDED.file_mtime_ns)
        RETURNING filename
        """,
        {
            "name": escaped_name,
            "batch": escaped_name.removesuffix(".csv"),
            "status": QUARANTINED,
            "size": size,
            "mtime": mtime_ns,
            "error": error,
        },
    )
    return cur.fetchone() is not None


@dataclass(frozen=True)
class LoadedTotals:
    """Files loaded since a moment, and their rows (`etl status`)."""

    files: int
    rows_read: int
    rows_loaded: int
    rows_rejected: int


def loaded_since(cur: psycopg2.extensions.cursor, since: datetime) -> LoadedTotals:
    cur.execute(
        "SELECT count(*), coalesce(sum(rows_read), 0), coalesce(sum(rows_loaded), 0), "
        "coalesce(sum(rows_rejected), 0) FROM utilities.processed_files "
        "WHERE status = %s AND loaded_at >= %s",
        (LOADED, since),
    )
    return LoadedTotals(*one_row(cur))


def quarantined_since(cur: psycopg2.extensions.cursor, since: datetime) -> list[tuple[str, datetime, str]]:
    """(filename, recorded at, reason) of files quarantined since `since`, newest first (`etl status`)."""
    cur.execute(
        "SELECT filename, loaded_at, coalesce(error, '') FROM utilities.processed_files "
        "WHERE status = %s AND loaded_at >= %s ORDER BY loaded_at DESC",
        (QUARANTINED, since),
    )
    return cur.fetchall()


@dataclass(frozen=True)
class UnannouncedQuarantine:
    """A quarantined file version no alert was queued for yet; `alert_key` names the version."""

    alert_key: str
    batch_id: str
    filename: str
    reason: str


#: A file version: its name, size and modification time (a replaced file is a new version).
_VERSION_KEY_SQL = "'quarantined:' || pf.filename || ':' || coalesce(pf.size_bytes, 0) || ':' || coalesce(pf.file_mtime_ns, 0)"


def unannounced_quarantines(cur: psycopg2.extensions.cursor, limit: int = 100) -> list[UnannouncedQuarantine]:
    """Quarantined file versions whose alert key is not in the alert outbox yet, oldest first (the quarantine
    alert). The one query reading the ledger with the outbox: the LIMIT must skip what was announced."""
    cur.execute(
        f"SELECT {_VERSION_KEY_SQL}, pf.batch_id, pf.filename, coalesce(nullif(pf.error, ''), 'unknown') "  # noqa: S608
        "FROM utilities.processed_files pf WHERE pf.status = %s "
        f"AND NOT EXISTS (SELECT 1 FROM utilities.alert_outbox o WHERE o.alert_key = {_VERSION_KEY_SQL}) "
        "ORDER BY pf.loaded_at, pf.id LIMIT %s",
        (QUARANTINED, limit),
    )
    return [UnannouncedQuarantine(*row) for row in cur.fetchall()]


@dataclass(frozen=True)
class LedgerTotals:
    """The whole ledger counted: files loaded and quarantined, rows loaded and rejected."""

    files_loaded: int
    files_quarantined: int
    rows_loaded: int
    rows_rejected: int


def ledger_totals(cur: psycopg2.extensions.cursor) -> LedgerTotals:
    cur.execute(
        "SELECT count(*) FILTER (WHERE status = %s), count(*) FILTER (WHERE status = %s), "
        "coalesce(sum(rows_loaded), 0), coalesce(sum(rows_rejected), 0) FROM utilities.processed_files",
        (LOADED, QUARANTINED),
    )
    loaded, quarantined, rows, rejected = one_row(cur)
    return LedgerTotals(int(loaded), int(quarantined), int(rows), int(rejected))


def record_loaded_versions(cur: psycopg2.extensions.cursor, versions: Iterable[tuple[str, int, int]]) -> None:
    """Record (batch id, size, mtime) versions as loaded, without rows, in one COPY: a ledger as large as a
    benchmark needs, in seconds."""
    data = io.StringIO("".join(f"{b}.csv\t{b}\t{LOADED}\t{size}\t{mtime}\n" for b, size, mtime in versions))
    cur.copy_expert(
        "COPY utilities.processed_files (filename, batch_id, status, size_bytes, file_mtime_ns) FROM STDIN",
        data,
    )


def record_loaded_object_versions(
    cur: psycopg2.extensions.cursor, versions: Iterable[tuple[str, int, int, str]]
) -> None:
    """Record (batch id, size, last-modified, ETag) bucket object versions as loaded, without rows, in one COPY
    (the bucket benchmark's ledger of 100k objects)."""
    data = io.StringIO(
        "".join(f"{b}.csv\t{b}\t{LOADED}\t{size}\t{mtime}\t{etag}\n" for b, size, mtime, etag in versions)
    )
    cur.copy_expert(
        "COPY utilities.processed_files (filename, batch_id, status, size_bytes, file_mtime_ns, source_etag) "
        "FROM STDIN",
        data,
    )
