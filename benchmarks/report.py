"""Targets and plain-text tables: the two shapes in which every scenario reports.

A `Target` is a goal the platform sets itself (met / NOT MET / not measured); `format_table` lays out the rows
each scenario prints, numbers right-aligned, so that all the scenarios' tables read alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Target:
    """A goal the platform sets itself; `value` None means the scenario did not run or could not measure."""

    name: str
    value: float | None
    limit: float
    comparison: Literal["<", "<=", ">="]
    unit: str = ""

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        if self.comparison == "<":
            return self.value < self.limit
        if self.comparison == "<=":
            return self.value <= self.limit
        return self.value >= self.limit

    @property
    def verdict(self) -> str:
        return {True: "met", False: "NOT MET", None: "not measured"}[self.met]

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "value": self.value,
            "target": f"{self.comparison} {self.limit:g}{self.unit}",
            "met": self.met,
        }


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table; numbers right-aligned, text left-aligned."""
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [
        all(_looks_numeric(row[i]) for row in cells[1:] if row[i] not in ("", "-"))
        and any(row[i] not in ("", "-") for row in cells[1:])
        for i in range(len(headers))
    ]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if num else c.ljust(w) for c, w, num in zip(row, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(cells[0]), line(["-" * w for w in widths]), *(line(r) for r in cells[1:])])


def _looks_numeric(text: str) -> bool:
    return bool(re.fullmatch(r"[-+]?[\d,]*\.?\d+(x|%| MB| s)?", text))
