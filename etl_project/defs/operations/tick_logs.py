"""The log files of sensor and schedule ticks: deleted once their ticks are gone.

Dagster captures each tick's log in files of its compute-log storage (`storage/<repository>/<sensor>/<tick
id>.err|.out`, most of them empty), and its tick retention (`retention:` in dagster.yaml) deletes only the tick
rows. `make bench`'s soak counted one such file per tick: millions a year at the default cadence. Housekeeping
deletes an empty tick log once it is older than the shortest tick retention, and any tick log once older than
the longest (no tick of that age is left to show it).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg

from etl_project.dagster_private import (
    IO_TYPE_EXTENSION,
    ComputeIOType,
    InstigatorType,
    LocalComputeLogManager,
    TickStatus,
)

DAY_SECONDS = 86_400


@dataclass(frozen=True)
class TickLogTally:
    deleted: int
    kept: int
    note: str


def tick_retention_days(instance: dg.DagsterInstance) -> tuple[float, float | None]:
    """(shortest, longest) days a finished tick is kept by the instance's `retention:` settings; longest is None
    when some ticks are kept forever (their logs are then kept too, unless empty)."""
    days = [
        value
        for kind in (InstigatorType.SENSOR, InstigatorType.SCHEDULE)
        for status, value in instance.get_tick_retention_settings(kind).items()
        if status != TickStatus.STARTED
    ]
    kept = [value for value in days if value >= 0]
    shortest = min(kept) if kept else 0.0
    return shortest, None if len(kept) < len(days) else max(kept)


def delete_expired_tick_logs(
    instance: dg.DagsterInstance,
    repository_name: str,
    instigator_names: Iterable[str],
    now: float,
    max_days: float | None = None,
) -> TickLogTally:
    """Delete the tick logs of the named sensors and schedules that have outlived their ticks, and any older
    than `max_days` when given (ETL_TICK_LOG_RETENTION_DAYS: shorter than the ticks, whose logs then show empty)."""
    manager = instance.compute_log_manager
    if not isinstance(manager, LocalComputeLogManager):
        return TickLogTally(
            0, 0, f"tick logs left to {type(manager).__name__} (only local files are deleted)"
        )
    shortest, longest = tick_retention_days(instance)
    if max_days is not None:
        shortest = min(shortest, max_days)
        longest = max_days if longest is None else min(longest, max_days)
    deleted = kept = 0
    for name in instigator_names:
        for log_key in _tick_log_keys(manager, [repository_name, name]):
            sizes_and_ages = [_size_and_age(manager, log_key, io_type, now) for io_type in ComputeIOType]
            present = [entry for entry in sizes_and_ages if entry is not None]
            age = min((entry[1] for entry in present), default=0.0)
            empty = all(entry[0] == 0 for entry in present)
            if (empty and age > shortest * DAY_SECONDS) or (
                longest is not None and age > longest * DAY_SECONDS
            ):
                manager.delete_logs(log_key=log_key)
                deleted += 1
            else:
                kept += 1
    longest_text = "forever" if longest is None else f"{longest:g} days"
    return TickLogTally(deleted, kept, f"empty after {shortest:g} days, any after {longest_text}")


def _tick_log_keys(manager: LocalComputeLogManager, prefix: list[str]) -> list[list[str]]:
    keys: dict[str, list[str]] = {}
    for io_type in ComputeIOType:
        try:
            found = manager.get_log_keys_for_log_key_prefix(prefix, io_type)
        except FileNotFoundError:  # an instigator that never logged
            continue
        keys.update({key[-1]: list(key) for key in found})
    return list(keys.values())


def _size_and_age(
    manager: LocalComputeLogManager, log_key: list[str], io_type: ComputeIOType, now: float
) -> tuple[int, float] | None:
    try:
        status = os.stat(manager.get_captured_local_path(log_key, IO_TYPE_EXTENSION[io_type]))
    except FileNotFoundError:
        return None
    return status.st_size, now - status.st_mtime
