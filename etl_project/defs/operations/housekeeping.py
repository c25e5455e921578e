"""dagster_housekeeping_job and its hourly schedule: deletes finished runs past their retention with their event
logs and compute logs, never one that holds what the UI shows as current (protected_runs.py), then VACUUMs.

Dagster OSS keeps every run and event forever (its `retention:` setting covers ticks only). At the default
cadence (about 4 runs a minute) that was 2.2M runs and 130 GB of database a year.
"""

import os
import time
from datetime import datetime, timezone

import dagster as dg

from etl_project.dagster_private import BaseAssetGraph
from etl_project.defs.operations.dagster_storage import database_size_bytes, vacuum_housekeeping_tables
from etl_project.defs.operations.protected_runs import protected_run_ids
from etl_project.defs.operations.run_deletion import delete_expired_runs, expired_runs_left
from etl_project.defs.operations.run_retention import RunRetention
from etl_project.defs.operations.tick_logs import delete_expired_tick_logs

#: Hourly, off the minute of the generator and the verdict: a pass then has about 250 runs to delete.
DEFAULT_HOUSEKEEPING_CRON = "23 * * * *"
#: ETL_HOUSEKEEPING_SCHEDULE: another cron, e.g. every minute for `make bench`'s soak (runs kept minutes).
HOUSEKEEPING_CRON = os.getenv("ETL_HOUSEKEEPING_SCHEDULE") or DEFAULT_HOUSEKEEPING_CRON


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _code_location(context: dg.OpExecutionContext) -> dg.RepositoryDefinition:
    """The code location's repository: the one a launched run came from; a job executed in process (a test,
    `dagster job execute`) has no repository, and then the code location is loaded here."""
    try:
        return context.repository_def
    except Exception:  # Dagster's invariant check: no repository definition on this step's context
        from etl_project.definitions import load_definitions  # lazily: the code location imports this module

        return load_definitions().get_repository_def()


def _code_location_asset_graph(context: dg.OpExecutionContext) -> BaseAssetGraph:
    """The code location's assets and checks."""
    return _code_location(context).asset_graph


@dg.op(name="delete_expired_runs")
def delete_expired_runs_op(context: dg.OpExecutionContext, run_retention: RunRetention) -> dg.Output[int]:
    """Deletes finished runs past ETL_RUN_RETENTION_DAYS (failed: ETL_FAILED_RUN_RETENTION_DAYS) with their
    event logs, check executions and compute logs, sparing runs that hold a registered partition's latest
    materialisation; then VACUUMs the tables it deleted from. The output's metadata says what it did."""
    instance = context.instance
    if run_retention.retention_days == 0 and run_retention.failed_retention_days == 0:
        return dg.Output(0, metadata={"runs_deleted": 0, "note": "run retention is disabled (0 days)"})
    started = time.monotonic()
    now = _now()
    size_before = database_size_bytes(instance)
    protected = protected_run_ids(instance, _code_location_asset_graph(context))
    tally = delete_expired_runs(
        instance,
        now,
        run_retention.retention_days,
        run_retention.failed_retention_days,
        protected,
        max_runs=run_retention.max_runs_per_pass,
        deadline=started + run_retention.max_seconds_per_pass,
    )
    vacuum = vacuum_housekeeping_tables(instance) if tally.deleted else None
    size_after = database_size_bytes(instance)
    left = expired_runs_left(instance, now, run_retention.retention_days, run_retention.failed_retention_days)
    context.log.info(
        f"Deleted {tally.deleted} runs {tally.deleted_by_status}; kept {tally.kept_protected} past their "
        f"retention that hold a current materialisation or check; {left} expired runs left"
    )
    metadata: dict[str, dg.RawMetadataValue] = {
        "runs_deleted": tally.deleted,
        "runs_deleted_by_status": dg.MetadataValue.json(tally.deleted_by_status),
        "runs_kept_holding_latest_materialisation": tally.kept_protected,
        "expired_runs_left": left,
        "stopped_early": tally.stopped_early or "no",
        "retention_days": run_retention.retention_days,
        "failed_retention_days": run_retention.failed_retention_days,
        "runs_stored": instance.get_runs_count(),
        "vacuum": "nothing deleted: skipped" if vacuum is None else vacuum.note,
        "vacuum_seconds": round(vacuum.seconds, 2) if vacuum else 0.0,
        "seconds": round(time.monotonic() - started, 2),
    }
    if size_before is not None and size_after is not None:
        metadata |= {"database_mb_before": size_before / 1e6, "database_mb_after": size_after / 1e6}
    return dg.Output(tally.deleted, metadata=metadata)


@dg.op(name="delete_expired_tick_logs")
def delete_expired_tick_logs_op(
    context: dg.OpExecutionContext, run_retention: RunRetention
) -> dg.Output[int]:
    """Deletes the log files of sensor and schedule ticks that Dagster's tick retention has deleted (it leaves
    the files): empty ones after the shortest tick retention, any after the longest (or after
    ETL_TICK_LOG_RETENTION_DAYS, when set)."""
    repository = _code_location(context)
    names = [sensor.name for sensor in repository.sensor_defs] + [s.name for s in repository.schedule_defs]
    tally = delete_expired_tick_logs(
        context.instance, repository.name, names, time.time(), run_retention.tick_log_retention_days
    )
    context.log.info(f"Deleted {tally.deleted} tick logs, kept {tally.kept} ({tally.note})")
    return dg.Output(
        tally.deleted,
        metadata={"tick_logs_deleted": tally.deleted, "tick_logs_kept": tally.kept, "rule": tally.note},
    )


@dg.job(
    name="dagster_housekeeping_job",
    description="Deletes finished runs past their retention (ETL_RUN_RETENTION_DAYS, default 30; failed runs "
    "ETL_FAILED_RUN_RETENTION_DAYS, default 90) with their event and compute logs, never the run holding a "
    "registered partition's latest materialisation, then VACUUMs; deletes the log files of ticks Dagster's "
    "tick retention has deleted. Run hourly by dagster_housekeeping_schedule.",
    tags={"etl/workload": "housekeeping"},
)
def dagster_housekeeping_job() -> None:
    delete_expired_runs_op()
    delete_expired_tick_logs_op()


dagster_housekeeping_schedule = dg.ScheduleDefinition(
    name="dagster_housekeeping_schedule",
    job=dagster_housekeeping_job,
    cron_schedule=HOUSEKEEPING_CRON,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly (ETL_HOUSEKEEPING_SCHEDULE): deletes runs past their retention with their logs (see "
    "dagster_housekeeping_job).",
)
