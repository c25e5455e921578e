"""Gets a batch file into the load's staging tables (`staging_tables`), as fast as the file allows.

Fast path: PostgreSQL's COPY parses the file's own bytes (CSV and JSON). That is exact when the file has one
quoting style throughout: quotes escaped with a backslash (`\\"`, our generator's style, read with
`ESCAPE '\\'`) and no doubled quotes, or doubled quotes (`""`) and no backslash at all. The bytes are checked
as they stream; a file that mixes the two styles (as Python's csv writer does with an escape character), has a
row PostgreSQL rejects (wrong number of fields, invalid JSON, bad UTF-8, a NUL) or an unusual header falls
back to the careful path. A large file is cut at a line break into two parts that the load's two connections
COPY at the same time; that is kept only when every line turned out to be one row (otherwise the cut could
have fallen inside a quoted field), else the file is staged again in one part.

Careful path: Python's csv module reads the file (`BatchFileStream`) and row problems travel with each row,
so that every row is accounted for; a file that cannot be read at all raises `BatchFileError`.
"""

from __future__ import annotations

import csv
import hashlib
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO, cast

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from etl_project.loading.batch_file import STAGED_COLUMNS, BatchFileStream
from etl_project.loading.batch_object import BatchObject, OpenedBatch, batch_object_of
from etl_project.loading.params import LoadParams, StagingParams
from etl_project.loading.staging_tables import (
    StagedPart,
    StagingTables,
    autocommit,
    drop_staging,
    transaction,
)
from etl_project.loading.statements import envelope
from etl_project.loading.statements import staging as staging_sql
from etl_project.loading.statements.common import analyze
from etl_project.schemas import BATCH_FILE_COLUMNS

CHUNK_BYTES = 1 << 20
#: A header line longer than this is not a header this platform writes: use the careful path.
MAX_HEADER_BYTES = 64 * 1024
#: Files at least this large are staged in two parts, one per connection; below, splitting gains nothing.
PARALLEL_STAGING_MIN_BYTES = 8 << 20


@dataclass
class StagedFile:
    """What staging learnt about the file."""

    rows_read: int
    checksum_sha256: str
    size_bytes: int
    mtime_ns: int
    parsed_by: str  # "postgresql" (fast path) or "python" (careful path)
    #: The bucket object's ETag (None: a file); with size and mtime_ns, the version loaded.
    etag: str | None = None
    parts: list[StagedPart] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    #: The file's first `batch_created_at` when valid and naive (`envelope.usual_batch_created_at`).
    usual_batch_created_at: str | None = None

    @property
    def tables(self) -> list[sql.Composable]:
        return [part.table for part in self.parts]


class _QuotingStyleChanged(Exception):
    """The file mixes quoting styles; PostgreSQL's parse of it would not be exact."""


@dataclass(frozen=True)
class _FilePart:
    """Bytes `[start, end)` of the file, whose first data row is file row `first_row`."""

    start: int
    end: int
    first_row: int


class _FileBytesForCopy(io.RawIOBase):
    """A byte range of the file, for COPY, style-checked and with its line breaks counted."""

    def __init__(self, file: OpenedBatch, part: _FilePart, backslash_escapes: bool):
        self._file = file.reader(part.start, part.end)
        self._left = part.end - part.start
        self._forbidden = b'""' if backslash_escapes else b"\\"
        self._previous_byte = b""
        self.style_changed = False
        self.line_breaks = 0
        self.last_byte = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        want = CHUNK_BYTES if size is None or size < 0 else max(size, CHUNK_BYTES)
        chunk = self._file.read(min(want, self._left))
        if chunk:
            self._left -= len(chunk)
            if self._forbidden in self._previous_byte + chunk:
                self.style_changed = True
                raise _QuotingStyleChanged
            self._previous_byte = self.last_byte = chunk[-1:]
            self.line_breaks += chunk.count(b"\n")
        return chunk

    @property
    def lines(self) -> int:
        return self.line_breaks + (1 if self.last_byte not in (b"", b"\n") else 0)

    def close(self) -> None:
        self._file.close()
        super().close()


@dataclass
class _PartCopy:
    rows: int
    lines: int


def _plain_header(file: OpenedBatch) -> tuple[bytes, list[str]] | None:
    """The header line's bytes and column names, when the fast path can take the file."""
    line = io.BufferedReader(file.reader()).readline(MAX_HEADER_BYTES)
    if not line.endswith(b"\n"):
        return None
    try:
        names = next(csv.reader([line.decode("utf-8-sig").rstrip("\r\n")]))
    except (UnicodeDecodeError, csv.Error, StopIteration):
        return None
    names = [n.strip() for n in names]
    if sorted(names) != sorted(BATCH_FILE_COLUMNS):  # missing, extra or repeated columns: careful path
        return None
    return line, names


def _split(opened: OpenedBatch, body_start: int, size: int, parts: int) -> list[_FilePart]:
    """The file's data cut at line breaks into `parts` ranges (fewer if it has fewer lines)."""
    cuts = [body_start]
    with io.BufferedReader(opened.reader()) as file:
        for k in range(1, parts):
            file.seek(max(cuts[-1], body_start + (size - body_start) * k // parts))
            file.readline()
            if file.tell() >= size:
                break
            cuts.append(file.tell())
        cuts.append(size)
        first_rows = [1]
        for k in range(1, len(cuts) - 1):
            first_rows.append(first_rows[-1] + _line_breaks(file, cuts[k - 1], cuts[k]))
    return [_FilePart(cuts[k], cuts[k + 1], first_rows[k]) for k in range(len(cuts) - 1)]


def _line_breaks(file: io.BufferedIOBase, start: int, end: int) -> int:
    file.seek(start)
    count, left = 0, end - start
    while left > 0:
        chunk = file.read(min(CHUNK_BYTES, left))
        if not chunk:
            break
        count += chunk.count(b"\n")
        left -= len(chunk)
    return count


def _digest(opened: OpenedBatch) -> tuple[str, int]:
    """SHA-256 and size of the file as read."""
    sha256 = hashlib.sha256()
    file = opened.reader()
    size = 0
    while chunk := file.read(CHUNK_BYTES):
        sha256.update(chunk)
        size += len(chunk)
    return sha256.hexdigest(), size


def _copy_part(
    conn: psycopg2.extensions.connection,
    table: sql.Identifier,
    file: OpenedBatch,
    part: _FilePart,
    names: list[str],
    backslash_escapes: bool,
) -> _PartCopy | None:
    """COPY one part of the file into its staging table; None when PostgreSQL cannot parse it exactly.

    Table and rows are created in one transaction so that COPY can write the rows frozen and the pages
    all-visible: every later scan of the part (each slice, the raw events) then skips per-row visibility checks.
    """
    source = _FileBytesForCopy(file, part, backslash_escapes)
    try:
        with transaction(conn) as cur:
            cur.execute(staging_sql.create_staging_part(table, part.first_row))
            cur.copy_expert(
                staging_sql.copy_file_into_staging(table, names, backslash_escapes).as_string(cur), source
            )
            rows = cur.rowcount
    except psycopg2.Error as err:
        if not (source.style_changed or isinstance(err, psycopg2.DataError)):
            raise  # a lost connection or a server problem, not something about the file
        return None
    finally:
        source.close()
    return _PartCopy(rows, source.lines)


def _stage_with_postgresql(
    connections: list[psycopg2.extensions.connection], file: OpenedBatch, tables: StagingTables
) -> StagedFile | None:
    header = _plain_header(file)
    if header is None:
        return None
    line, names = header
    backslash_escapes = b"\\" in file.reader(len(line)).read(CHUNK_BYTES)
    size = file.size
    wanted = len(connections) if size >= PARALLEL_STAGING_MIN_BYTES else 1
    for parts in dict.fromkeys((wanted, 1)):  # in parts if big; if that is not exact, in one part
        file_parts = _split(file, len(line), size, parts)
        with ThreadPoolExecutor(len(file_parts) + 1, thread_name_prefix="staging") as pool:
            digest = pool.submit(_digest, file)
            copies = [
                pool.submit(_copy_part, conn, tables.part(k), file, part, names, backslash_escapes)
                for k, (conn, part) in enumerate(zip(connections, file_parts, strict=False), start=1)
            ]
            results = [c.result() for c in copies]
            checksum, size_bytes = digest.result()
        # the file changed while it was read (written in place): the careful path reads it again
        unchanged = size_bytes == size and file.unchanged()
        exact = (
            unchanged
            and all(r is not None for r in results)
            and (len(results) == 1 or all(r.rows == r.lines for r in results if r is not None))
        )
        if exact:
            staged = StagedFile(
                sum(r.rows for r in results if r is not None),
                checksum,
                size_bytes,
                file.mtime_ns,
                "postgresql",
                file.etag,
            )
            staged.parts = [
                tables.staged_part(k, r.rows) for k, r in enumerate(results, start=1) if r is not None
            ]
            return staged
        with autocommit(connections[0]) as cur:
            drop_staging(cur, tables, parts_only=True)
    return None


def _stage_with_python(
    conn: psycopg2.extensions.connection, file: OpenedBatch, tables: StagingTables, params: StagingParams
) -> StagedFile:
    with transaction(conn) as cur, BatchFileStream(file) as stream:
        cur.execute(staging_sql.create_staging_part(tables.part(1), 1))
        cur.execute(staging_sql.create_staged_text())
        try:
            cur.copy_expert(
                staging_sql.copy_python_rows_into_staged_text(STAGED_COLUMNS).as_string(cur),
                cast(TextIO, stream),  # read(size) -> str, all COPY asks of a file
                size=1 << 20,
            )
        except psycopg2.Error:
            if stream.error:  # psycopg2 wraps our reader's error in its own; report the file's problem
                raise stream.error from None
            raise
        cur.execute(envelope.reject_unparsable_text_rows(tables.rejections), params.as_params())
        cur.execute(staging_sql.move_parsable_text_rows(tables.part(1)))
        rows = cur.rowcount
    staged = StagedFile(
        stream.rows_read,
        stream.checksum_sha256,
        stream.size_bytes,
        stream.mtime_ns,
        "python",
        file.etag,
        ignored_columns=stream.ignored_columns,
    )
    staged.parts = [tables.staged_part(1, rows)]
    return staged


def _reject_envelopes(
    conn: psycopg2.extensions.connection, part: StagedPart, tables: StagingTables, params: LoadParams
) -> int:
    """Rows of the part that cannot be raw events leave it for the rejections table; return how many."""
    with transaction(conn) as cur:
        cur.execute(envelope.reject_envelopes(part.table, tables.rejections), params.as_params())
        rejected = cur.rowcount
        # Row counts and event types for the planners of both connections; a small sample is plenty for that.
        cur.execute("SET LOCAL default_statistics_target = 10")
        cur.execute(analyze(part.table, "event_type"))
    return rejected


def stage_file(
    connections: list[psycopg2.extensions.connection],
    source: Path | BatchObject,
    tables: StagingTables,
    params: StagingParams,
) -> StagedFile:
    """Fill the load's staging parts from the file, using up to one part per connection (each must be idle,
    outside a transaction), and move rows with a bad envelope (or, on the careful path, unreadable ones) to
    the load's rejections table. The file is opened once (`OpenedBatchFile`: no symlink, no FIFO; a bucket
    object: every read of it asks for the ETag it had when opened) and every reader reads that version; raises
    `BatchFileError` when it is not a regular file (or no object)."""
    with batch_object_of(source).open() as file:
        staged = _stage_with_postgresql(connections, file, tables) or _stage_with_python(
            connections[0], file, tables, params
        )
    with autocommit(connections[0]) as cur:
        cur.execute(envelope.usual_batch_created_at(staged.parts[0].table))
        staged.usual_batch_created_at = (cur.fetchone() or (None,))[0]
    load_params = params.staged(staged.usual_batch_created_at)
    with ThreadPoolExecutor(len(staged.parts), thread_name_prefix="staging") as pool:
        rejected = pool.map(
            lambda conn_part: _reject_envelopes(conn_part[0], conn_part[1], tables, load_params),
            zip(connections, staged.parts, strict=False),
        )
        for part, n in zip(staged.parts, list(rejected), strict=True):
            part.rows -= n
    return staged
