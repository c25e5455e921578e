"""The lines of a batch file for Python's csv reader, each bounded, so that no input costs more than its size.

Python's csv reader keeps a whole line, and a list entry per field, in memory: a 20 MB line of commas cost
153 MB, and a 350 KB header of 40k column names 9.7 s (the header checks were quadratic). So the header is
one line of at most `MAX_HEADER_CHARS` characters and `MAX_HEADER_COLUMNS` columns (else the file is
quarantined), and a data line longer than `MAX_LINE_CHARS` characters or holding more than
`MAX_LINE_SEPARATORS` commas is never given to the csv reader: it is read past in bounded pieces and its row
is rejected with the reason. That is safe only at the start of a row; a line that continues a quoted field
spanning lines cannot be cut out of its row, and then the file is quarantined.
"""

from __future__ import annotations

import csv
import uuid
from collections import deque
from collections.abc import Iterator
from typing import TextIO

#: The header line (the four column names, perhaps a few more) is read up to this many characters.
MAX_HEADER_CHARS = 64 * 1024
#: Columns a header may name; the four of the format and any extra ones (ignored) count.
MAX_HEADER_COLUMNS = 100
#: A data line longer than this many characters is rejected (the largest field, a payload, is 64 MiB too).
MAX_LINE_CHARS = 64 * 1024 * 1024
#: A data line with more commas than this is rejected: each field costs the csv reader a list entry.
MAX_LINE_SEPARATORS = 100_000


class LineLimitError(Exception):
    """The header, or a line that cannot be set apart as its own row, is past the limits."""


def read_header(text: TextIO) -> list[str] | None:
    """The header's column names (None for an empty file); raises LineLimitError past the limits."""
    line = text.readline(MAX_HEADER_CHARS + 1)
    if not line:
        return None
    if len(line) > MAX_HEADER_CHARS and not line.endswith("\n"):
        raise LineLimitError(
            f"header too long: more than {MAX_HEADER_CHARS:,} characters before the first line break "
            f"(at most {MAX_HEADER_COLUMNS} columns of a header line are accepted)"
        )
    if line.count(",") >= MAX_HEADER_COLUMNS:
        raise LineLimitError(
            f"header too long: {line.count(',') + 1:,} columns or more; at most {MAX_HEADER_COLUMNS} are accepted"
        )
    return next(csv.reader([line], quoting=csv.QUOTE_MINIMAL, escapechar="\\", doublequote=True), [])


class BoundedLines:
    """Iterates the data lines for the csv reader; a line past the limits becomes a marker line, whose row the
    caller recognises with `problem_of(fields)`. The caller calls `row_ended(reader.line_num)` after each row."""

    def __init__(self, text: TextIO):
        self._text = text
        self._marker = f"etl-line-past-limits-{uuid.uuid4().hex}"
        self._problems: deque[str] = deque()
        self._served = 0
        self._row_end = 0

    def row_ended(self, lines_consumed: int) -> None:
        self._row_end = lines_consumed

    def problem_of(self, fields: list[str]) -> str | None:
        """The reason a row is rejected when it stands for a line past the limits; None for any other row."""
        if len(fields) == 1 and fields[0] == self._marker:
            return self._problems.popleft()
        return None

    def __iter__(self) -> Iterator[str]:
        while line := self._text.readline(MAX_LINE_CHARS + 1):
            line_number = self._served + 1
            problem = None
            if len(line) > MAX_LINE_CHARS and not line.endswith("\n"):
                while line and not line.endswith("\n"):  # read past it, one bounded piece at a time
                    line = self._text.readline(MAX_LINE_CHARS)
                problem = f"line longer than {MAX_LINE_CHARS:,} characters"
            elif line.count(",") > MAX_LINE_SEPARATORS:
                problem = f"line with more than {MAX_LINE_SEPARATORS:,} commas"
            if problem is not None:
                if self._served != self._row_end:
                    raise LineLimitError(f"data line {line_number}: {problem}, inside a field spanning lines")
                self._problems.append(problem)
                line = self._marker + "\n"
            self._served += 1
            yield line
