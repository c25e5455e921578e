"""Deleting expired runs with everything Dagster stores for them, through Dagster's own API, in an order that a
crash at any point leaves something the next pass finds and finishes.

For each run: its compute logs (`compute_log_manager.delete_logs`), its check executions, its event log
(`event_log_storage.delete_events`), then the run itself (`instance.delete_run`). The run record goes last: as
long as it exists the run is a candidate again, so a pass that dies half-way through a run is completed by the
next one. (`instance.delete_run` alone deletes the record first and the events after: a crash between would
leave events no run names.)
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import dagster as dg

# Dagster 1.13 deletes a run's events but not its rows here (one per check evaluation); no public API does.
from etl_project.dagster_private import AssetCheckExecutionsTable

#: Runs read per page.
_PAGE = 500
_SUCCEEDED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.CANCELED]
_FAILED = [dg.DagsterRunStatus.FAILURE]


@dataclass
class DeletionTally:
    """What one pass deleted and kept."""

    deleted_by_status: dict[str, int] = field(default_factory=dict)
    kept_protected: int = 0
    stopped_early: str | None = None

    @property
    def deleted(self) -> int:
        return sum(self.deleted_by_status.values())


def delete_run_completely(instance: dg.DagsterInstance, run_id: str) -> None:
    """Compute logs, check executions, event log, then the run record (see the module's docstring)."""
    instance.compute_log_manager.delete_logs(prefix=[run_id])
    storage = instance.event_log_storage
    if hasattr(storage, "index_connection"):  # SQL storages (PostgreSQL, SQLite)
        with storage.index_connection() as conn:
            conn.execute(
                AssetCheckExecutionsTable.delete().where(AssetCheckExecutionsTable.c.run_id == run_id)
            )
    storage.delete_events(run_id)
    instance.delete_run(run_id)


def delete_expired_runs(
    instance: dg.DagsterInstance,
    now: datetime,
    retention_days: float,
    failed_retention_days: float,
    protected: set[str],
    max_runs: int,
    deadline: float,
    on_deleted: Callable[[str], None] = lambda run_id: None,
) -> DeletionTally:
    """Delete finished runs older than their retention (0 days: keep), oldest first, sparing `protected`."""
    tally = DeletionTally()
    for statuses, days in ((_SUCCEEDED, retention_days), (_FAILED, failed_retention_days)):
        if days == 0:
            continue
        cutoff = now - timedelta(days=days)
        cursor = None
        while tally.stopped_early is None:
            records = instance.get_run_records(
                filters=dg.RunsFilter(statuses=statuses, updated_before=cutoff),
                limit=_PAGE,
                ascending=True,
                cursor=cursor,
            )
            if not records:
                break
            cursor = records[-1].dagster_run.run_id
            for record in records:
                if tally.deleted >= max_runs:
                    tally.stopped_early = f"deleted the maximum of {max_runs} runs per pass"
                    break
                if time.monotonic() >= deadline:
                    tally.stopped_early = "reached the time limit of a pass"
                    break
                run = record.dagster_run
                if run.run_id in protected:
                    tally.kept_protected += 1
                    continue
                delete_run_completely(instance, run.run_id)
                status = run.status.value
                tally.deleted_by_status[status] = tally.deleted_by_status.get(status, 0) + 1
                on_deleted(run.run_id)
    return tally


def expired_runs_left(
    instance: dg.DagsterInstance, now: datetime, retention_days: float, failed_retention_days: float
) -> int:
    """Finished runs past their retention still stored (protected ones included)."""
    left = 0
    for statuses, days in ((_SUCCEEDED, retention_days), (_FAILED, failed_retention_days)):
        if days:
            cutoff = now - timedelta(days=days)
            left += instance.get_runs_count(dg.RunsFilter(statuses=statuses, updated_before=cutoff))
    return left
