"""Gets a batch file into the temporary table `staged_rows`, as fast as the file allows.

Fast path: PostgreSQL's COPY parses the file's own bytes (CSV and JSON) while Python only hashes them. That is
exact when the file has one quoting style throughout: quotes escaped with a backslash (`\\"`, our generator's
style, read with `ESCAPE '\\'`) and no doubled quotes, or doubled quotes (`""`) and no backslash at all. The
bytes are checked as they stream; a file that mixes the two styles (as Python's csv writer does with an
escape character), has a row PostgreSQL rejects (wrong number of fields, invalid JSON, bad UTF-8, a NUL) or
an unusual header falls back to the careful path.

Careful path: Python's csv module reads the file (`BatchFileStream`) and row problems travel with each row,
so that every row is accounted for; a file that cannot be read at all raises `BatchFileError`.

`copy_file_into_raw_events` is the fast path's twin for the load's writing connection: the same bytes straight
into etl.raw_events, each line numbered by Python, while the validating connection stages the file.
"""

import csv
import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import psycopg2.extensions

from etl_project.loading import validation_sql as q
from etl_project.loading.batch_file import STAGED_COLUMNS, BatchFileStream
from etl_project.schemas import BATCH_FILE_COLUMNS

CHUNK_BYTES = 1 << 20
#: A header line longer than this is not a header this platform writes: use the careful path.
MAX_HEADER_BYTES = 64 * 1024


@dataclass
class StagedFile:
    """What staging learnt about the file."""

    rows_read: int
    checksum_sha256: str
    size_bytes: int
    mtime_ns: int
    parsed_by: str  # "postgresql" (fast path) or "python" (careful path)
    ignored_columns: list[str] = field(default_factory=list)
    #: (device, inode, size, mtime) of the file version staged by PostgreSQL; None for the careful path.
    file_identity: tuple[int, int, int, int] | None = None


class _QuotingStyleChanged(Exception):
    """The file mixes quoting styles; PostgreSQL's parse of it would not be exact."""


class _FileBytesForCopy(io.RawIOBase):
    """The file's bytes after its header line, for COPY, hashed (header included) and style-checked."""

    def __init__(self, path: Path, header: bytes, hashing: bool = True):
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._hashing = hashing
        stat = os.fstat(self._file.fileno())
        self.mtime_ns = stat.st_mtime_ns
        self.identity = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        self.sha256 = hashlib.sha256(self._file.read(len(header)))
        self.size = len(header)
        self._first = self._file.read(CHUNK_BYTES)
        #: Backslash-escaped quotes (our generator) or doubled quotes (standard CSV), from the first chunk.
        self.backslash_escapes = b"\\" in self._first
        self._forbidden = b'""' if self.backslash_escapes else b"\\"
        self._previous_byte = b""
        self.style_changed = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._first is not None:
            chunk, self._first = self._first, None
        else:
            chunk = self._file.read(CHUNK_BYTES if size is None or size < 0 else max(size, CHUNK_BYTES))
        if chunk:
            if self._forbidden in self._previous_byte + chunk:
                self.style_changed = True
                raise _QuotingStyleChanged
            self._previous_byte = chunk[-1:]
            if self._hashing:
                self.sha256.update(chunk)
            self.size += len(chunk)
        return chunk

    def close(self) -> None:
        self._file.close()
        super().close()


class _NumberedLines(_FileBytesForCopy):
    """The same bytes with `raw_id,file_row,` in front of each line (line n of the data is file row n).

    Exact only while every CSV record is one line; the caller compares COPY's record count with `lines`.
    """

    def __init__(self, path: Path, header: bytes, raw_id_base: int):
        super().__init__(path, header, hashing=False)  # the staging connection hashes the file
        self._base = raw_id_base
        self.lines = 0
        self._partial = b""

    def read(self, size: int = -1) -> bytes:
        chunk = super().read(size)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop() if chunk else b""
        if not chunk and lines == [b""]:
            return b""  # end of file (a last line without a newline was returned with one added)
        first, base = self.lines + 1, self._base
        self.lines += len(lines)
        return b"".join([b"%d,%d,%s\n" % (base + n, n, line) for n, line in enumerate(lines, first)])


def _plain_header(path: Path) -> tuple[bytes, list[str]] | None:
    """The header line's bytes and column names, when the fast path can take the file."""
    with open(path, "rb") as file:
        line = file.readline(MAX_HEADER_BYTES)
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


def _stage_with_postgresql(cur: psycopg2.extensions.cursor, path: Path) -> StagedFile | None:
    header = _plain_header(path)
    if header is None:
        return None
    line, names = header
    cur.execute("SAVEPOINT fast_staging")
    source = _FileBytesForCopy(path, line)
    try:
        cur.copy_expert(q.copy_file_into_staged_rows(names, source.backslash_escapes).as_string(cur), source)
        rows = cur.rowcount
    except psycopg2.Error as err:
        if not (source.style_changed or isinstance(err, psycopg2.DataError)):
            raise  # a lost connection or a server problem, not something about the file
        cur.execute("ROLLBACK TO SAVEPOINT fast_staging")
        return None
    finally:
        source.close()
    cur.execute("RELEASE SAVEPOINT fast_staging")
    return StagedFile(
        rows,
        source.sha256.hexdigest(),
        source.size,
        source.mtime_ns,
        "postgresql",
        file_identity=source.identity,
    )


def _stage_with_python(cur: psycopg2.extensions.cursor, path: Path, params: dict) -> StagedFile:
    cur.execute(q.create_staged_text())
    with BatchFileStream(path) as stream:
        try:
            cur.copy_expert(
                q.copy_python_rows_into_staged_text(STAGED_COLUMNS).as_string(cur), stream, size=1 << 20
            )
        except psycopg2.Error:
            if stream.error:  # psycopg2 wraps our reader's error in its own; report the file's problem
                raise stream.error from None
            raise
    cur.execute(q.reject_unparsable_text_rows(), params)
    cur.execute(q.move_parsable_text_rows(), params)
    return StagedFile(
        stream.rows_read,
        stream.checksum_sha256,
        stream.size_bytes,
        stream.mtime_ns,
        "python",
        stream.ignored_columns,
    )


@dataclass
class RawEventsCopy:
    """What the direct COPY into etl.raw_events did: rows copied, and the file version it read."""

    rows: int
    file_identity: tuple[int, int, int, int]


def copy_file_into_raw_events(
    cur: psycopg2.extensions.cursor, path: Path, raw_id_base: int
) -> RawEventsCopy | None:
    """COPY the file's bytes straight into etl.raw_events (numbered from `raw_id_base`); None when it cannot.

    A savepoint keeps a failed attempt from leaving anything; the caller keeps a successful one only when the
    staging of the same file version agrees on every row (see `batch_loader`).
    """
    header = _plain_header(path)
    if header is None:
        return None
    line, names = header
    cur.execute("SAVEPOINT raw_events_copy")
    source = _NumberedLines(path, line, raw_id_base)
    try:
        cur.copy_expert(q.copy_file_into_raw_events(names, source.backslash_escapes).as_string(cur), source)
        rows = cur.rowcount
    except psycopg2.Error as err:
        if not (source.style_changed or isinstance(err, psycopg2.DataError)):
            raise
        cur.execute("ROLLBACK TO SAVEPOINT raw_events_copy")
        return None
    finally:
        source.close()
    if rows != source.lines:  # a record spanning lines: the numbering is off
        cur.execute("ROLLBACK TO SAVEPOINT raw_events_copy")
        return None
    cur.execute("RELEASE SAVEPOINT raw_events_copy")
    return RawEventsCopy(rows, source.identity)


def stage_file(cur: psycopg2.extensions.cursor, path: Path, params: dict) -> StagedFile:
    """Fill `staged_rows` from the file (rows the careful path finds unparsable are rejected on the way)."""
    cur.execute(q.create_staged_rows())
    return _stage_with_postgresql(cur, path) or _stage_with_python(cur, path, params)
