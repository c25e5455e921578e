"""A generator may only write a batch that does not exist: never a real batch's file, nor a batch the ledger knows.

A generated batch written under an existing id would replace that batch's file, and the sensor would then
replace its real rows with invented ones. The file itself is never overwritten (`write_batch_file` publishes
with a hard link, which fails on an existing name); this also refuses an id that is not a valid batch id or
that utilities.processed_files already records (loaded, quarantined or dropped), even when its file is gone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import psycopg2.extensions

from etl_project.schemas import invalid_batch_id_reason
from etl_project.store.processed_files import recorded_status


class BatchIdTakenError(ValueError):
    """The batch id cannot be given to a generated batch; the message says why."""


class BatchDestination(Protocol):
    """Where a generator writes (a source of `etl_project.sources`): whether a batch's data is there already."""

    @property
    def location(self) -> str: ...
    def holds(self, batch_id: str) -> bool: ...


def refuse_taken_batch_id(
    conn: psycopg2.extensions.connection | None, directory: Path | BatchDestination, batch_id: str
) -> None:
    """Raise BatchIdTakenError unless `batch_id` is a valid, unused batch id (conn None: no ledger to ask)."""
    reason = invalid_batch_id_reason(batch_id)
    if reason:
        raise BatchIdTakenError(f"batch id {batch_id!r} refused: {reason}")
    if isinstance(directory, Path):
        there = (directory / f"{batch_id}.csv").exists() or (directory / f"{batch_id}.csv").is_symlink()
        location = str(directory)
    else:
        there, location = directory.holds(batch_id), directory.location
    if there:
        raise BatchIdTakenError(
            f"batch id {batch_id!r} refused: {batch_id}.csv exists already in {location}; a generator never "
            "overwrites a batch file"
        )
    if conn is None:
        return
    status = recorded_status(conn, batch_id)
    if status is not None:
        raise BatchIdTakenError(
            f"batch id {batch_id!r} refused: it is already a batch in utilities.processed_files ({status}); "
            "a generated batch would replace its rows with invented ones"
        )
