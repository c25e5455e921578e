"""Reads a batch file as a stream of rows ready for PostgreSQL COPY.

The file is read once, in constant memory: bytes are hashed as they are read, decoded as UTF-8, parsed as CSV
and re-emitted in PostgreSQL's own CSV dialect, each row tagged with its position in the file. Row-level
problems (a wrong number of fields, NUL characters) travel with the row so that SQL records them as rejections;
only a file that cannot be read at all raises `BatchFileError`.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from collections.abc import Iterator
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from etl_project.loading.bounded_lines import BoundedLines, LineLimitError, read_header
from etl_project.schemas import BATCH_FILE_COLUMNS

if TYPE_CHECKING:
    from etl_project.loading.batch_object import OpenedBatch

#: Largest single field accepted (a payload); PostgreSQL's own limit for a jsonb value is far above.
MAX_FIELD_BYTES = 64 * 1024 * 1024
csv.field_size_limit(MAX_FIELD_BYTES)

#: Columns of the staging table, in the order `BatchFileStream` emits them.
STAGED_COLUMNS: tuple[str, ...] = ("file_row", *BATCH_FILE_COLUMNS, "parse_error")


class BatchFileError(Exception):
    """The file cannot be read as a batch at all (not CSV, wrong encoding, wrong header, empty)."""

    def __init__(self, path: PurePath, problem: str):
        super().__init__(f"{path.name}: {problem}")
        self.filename = path.name
        self.problem = problem


class _HashingReader(io.RawIOBase):
    """Passes bytes through while computing their SHA-256 and counting them."""

    def __init__(self, raw: io.RawIOBase):
        self._raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer)
        if n:
            self.sha256.update(memoryview(buffer)[:n])
            self.size += n
        return n or 0


class BatchFileStream:
    """A file-like object (`read(size)`) that PostgreSQL COPY consumes, plus what was learnt on the way.

    Legacy files quote every field and escape with a backslash; quotes inside a field may be doubled (`""`,
    what Python's csv writer does by default) or backslash-escaped (`\\"`): both are read. The header may list
    the four columns in any order; extra columns are ignored.
    """

    def __init__(self, opened: OpenedBatch, chunk_chars: int = 1 << 20):
        self.path = opened.path
        self.rows_read = 0
        self.ignored_columns: list[str] = []
        self._chunk_chars = chunk_chars
        self._raw = opened.reader()  # the load's one descriptor, read at this stream's own offset
        #: Modification time of the file as opened; with the size it identifies this version of the file.
        self.mtime_ns = opened.mtime_ns
        self._hashing = _HashingReader(self._raw)
        self._text = io.TextIOWrapper(
            io.BufferedReader(self._hashing, buffer_size=1 << 20), encoding="utf-8-sig", newline=""
        )
        self._rows = self._emit_rows()
        self._done = False
        #: Set when the file turned out unreadable; the COPY driver reports its own error instead.
        self.error: BatchFileError | None = None

    @property
    def checksum_sha256(self) -> str:
        return self._hashing.sha256.hexdigest()

    @property
    def size_bytes(self) -> int:
        return self._hashing.size

    def close(self) -> None:
        self._text.close()
        self._raw.close()

    def __enter__(self) -> BatchFileStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self, size: int = -1) -> str:
        if self._done:
            return ""
        want = self._chunk_chars if size is None or size < 0 else max(size, self._chunk_chars)
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        try:
            for staged in self._rows:
                writer.writerow(staged)
                if out.tell() >= want:
                    break
            else:
                self._done = True
        except BatchFileError as err:
            self.error = err
            raise
        return out.getvalue()

    def _emit_rows(self) -> Iterator[tuple[object, ...]]:
        lines = BoundedLines(self._text)
        reader = csv.reader(lines, quoting=csv.QUOTE_MINIMAL, escapechar="\\", doublequote=True)
        try:
            header = read_header(self._text)
            if header is None:
                raise BatchFileError(self.path, "the file is empty (no header line)")
            positions = self._column_positions(header)
            width = len(header)
            for file_row, fields in enumerate(reader, start=1):
                self.rows_read = file_row
                lines.row_ended(reader.line_num)
                past_limits = lines.problem_of(fields)
                if past_limits is not None:
                    values, problem = ["", "", "", ""], past_limits
                elif len(fields) == width:
                    values = [fields[i] for i in positions]
                    problem = "the row contains a NUL character" if any("\x00" in v for v in values) else ""
                    if problem:
                        values = [v.replace("\x00", "\\u0000") for v in values]
                elif not fields:
                    values, problem = ["", "", "", ""], "empty line"
                else:
                    values = [fields[i] if i < len(fields) else "" for i in positions]
                    values = [v.replace("\x00", "\\u0000") for v in values]
                    problem = f"expected {width} fields as in the header, got {len(fields)}"
                yield (file_row, *values, problem)
        except UnicodeDecodeError as err:
            raise BatchFileError(
                self.path,
                f"not valid UTF-8 (byte {err.object[err.start : err.start + 1]!r} near byte offset "
                f"{self._hashing.size})",
            ) from err
        except LineLimitError as err:
            raise BatchFileError(self.path, str(err)) from err
        except csv.Error as err:
            raise BatchFileError(
                self.path, f"not a readable CSV file at data row {self.rows_read + 1}: {err}"
            ) from err

    def _column_positions(self, header: list[str]) -> list[int]:
        names = [h.strip() for h in header]
        if len(header) == 1 and header[0].count("\x00"):
            raise BatchFileError(self.path, "not a CSV file (binary content)")
        counts = Counter(names)  # linear in the header's size (it was quadratic)
        missing = [c for c in BATCH_FILE_COLUMNS if c not in counts]
        if missing:
            shown = ",".join(n[:40] for n in names[:8])
            raise BatchFileError(
                self.path,
                f"wrong header: missing column(s) {', '.join(missing)}; expected "
                f"{','.join(BATCH_FILE_COLUMNS)}, got {shown!r}",
            )
        duplicated = sorted(c for c in BATCH_FILE_COLUMNS if counts[c] > 1)
        if duplicated:
            raise BatchFileError(self.path, f"wrong header: column(s) {', '.join(duplicated)} appear twice")
        self.ignored_columns = [n for n in names if n not in BATCH_FILE_COLUMNS]
        return [names.index(c) for c in BATCH_FILE_COLUMNS]
