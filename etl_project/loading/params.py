"""The bound parameters of the loader's SQL: the only place their names are spelt.

SQL builders use the placeholders below (`BATCH_ID` renders as `%(batch_id)s`); statements run with the
`as_params()` of one of the frozen parameter objects, one per statement family. A statement is given the
object of its family, so a missing value is a type error where the object is built, not a `KeyError` on the
one path that needs it. Values always travel as bound parameters; identifiers come from the schemas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from psycopg2 import sql

#: The batch being loaded, replayed or replaced.
BATCH_ID = sql.Placeholder("batch_id")
#: First raw_id of the load's range (`raw_id = raw_id_base + file_row`).
RAW_ID_BASE = sql.Placeholder("raw_id_base")
#: The batch_created_at most rows of the file carry (valid and naive), or NULL (see `statements.envelope`).
USUAL_BATCH_CREATED_AT = sql.Placeholder("usual_batch_created_at")
#: A slice of a staging part: tuple ids from FIRST_TID up to END_TID (exclusive).
FIRST_TID = sql.Placeholder("first_tid")
END_TID = sql.Placeholder("end_tid")
#: raw_id_base of the batch's previous load, whose rows a reload deletes.
PREVIOUS_BASE = sql.Placeholder("previous_base")
#: Ids of an entity table that a reload would remove (an array).
REMOVED_IDS = sql.Placeholder("removed_ids")


class SqlParams(Protocol):
    def as_params(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class BatchParams:
    """Statements about a batch as a whole: its rejections, a replay, a legacy batch's deletion."""

    batch_id: str

    def as_params(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id}


@dataclass(frozen=True)
class PreviousLoadParams:
    """Deleting the rows of the batch's previous load, by their raw_id range."""

    previous_base: int

    def as_params(self) -> dict[str, Any]:
        return {"previous_base": self.previous_base}


@dataclass(frozen=True)
class PreviousIdsParams:
    """Reading the ids the batch's previous load gave: by its raw_id range, or by batch id for a batch loaded
    before ranges existed (`previous_base` None)."""

    batch_id: str
    previous_base: int | None

    def as_params(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "previous_base": self.previous_base}


@dataclass(frozen=True)
class RemovedIdsParams:
    """Looking for rows of other batches than the load's (`LoadParams`) that reference `removed_ids`."""

    load: LoadParams
    removed_ids: list[int]

    def as_params(self) -> dict[str, Any]:
        return {**self.load.as_params(), "removed_ids": self.removed_ids}


@dataclass(frozen=True)
class StagingParams:
    """Staging a file, before its usual batch_created_at is known: the batch and the load's raw_id range."""

    batch_id: str
    raw_id_base: int

    def as_params(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "raw_id_base": self.raw_id_base}

    def staged(self, usual_batch_created_at: str | None) -> LoadParams:
        return LoadParams(self.batch_id, self.raw_id_base, usual_batch_created_at)


@dataclass(frozen=True)
class LoadParams(StagingParams):
    """Every statement of a load once the file is staged (envelopes, raw events, validation, preview)."""

    usual_batch_created_at: str | None

    def as_params(self) -> dict[str, Any]:
        return {**super().as_params(), "usual_batch_created_at": self.usual_batch_created_at}

    def slice(self, first_page: int, end_page: int) -> SliceParams:
        return SliceParams(self, first_page, end_page)


@dataclass(frozen=True)
class SliceParams:
    """Validating one slice of a staging part: pages `[first_page, end_page)`, read by a TID range scan."""

    load: LoadParams
    first_page: int
    end_page: int

    def as_params(self) -> dict[str, Any]:
        return {
            **self.load.as_params(),
            "first_tid": f"({self.first_page},0)",
            "end_tid": f"({self.end_page},0)",
        }
