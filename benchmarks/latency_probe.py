"""What a drop of the `latency` scenario has reached, read from PostgreSQL, the Dagster instance and the fake
Slack, and which sensor tick did what: the probes of end_to_end_latency.py.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path

import dagster as dg
import psycopg2
from dagster._core.scheduler.instigation import InstigatorTick, InstigatorType

from benchmarks.support import BenchmarkError, tail
from etl_project.defs.ingestion.jobs import load_batches_job
from etl_testkit.fake_slack import FakeSlack

POLL_SECONDS = 0.1
#: Sensors that never send alerts.
NOT_ALERTING = {
    "batch_file_sensor",
    "analytics_automation_sensor",
    "pending_sales_refresh_sensor",
    "batch_partition_retention_sensor",
}
CHECK_KEY = dg.AssetCheckKey(dg.AssetKey("store_daily_sales"), "sales_drop_check")


def epoch(moment: datetime) -> float:
    """Dagster stores run times as naive UTC datetimes."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


class LatencyProbe:
    """What a drop has reached so far, read from PostgreSQL, the Dagster instance and the fake Slack; waits
    fail at once when the daemon died."""

    def __init__(
        self,
        etl_url: str,
        instance: dg.DagsterInstance,
        slack: FakeSlack,
        daemon: subprocess.Popen,
        daemon_log: Path,
    ):
        self.conn = psycopg2.connect(etl_url)
        self.conn.autocommit = True
        self.instance = instance
        self.slack = slack
        self.daemon = daemon
        self.daemon_log = daemon_log

    def close(self) -> None:
        self.conn.close()

    def wait(self, what: str, reached: Callable[[], bool], deadline: float) -> float:
        """Poll until `reached()`; the moment it was first seen."""
        while not reached():
            if self.daemon.poll() is not None or time.time() > deadline:
                problem = "dagster-daemon exited" if self.daemon.poll() is not None else "timed out"
                log_tail = tail(self.daemon_log.read_text(encoding="utf-8", errors="replace"), lines=40)
                raise BenchmarkError(f"{problem} waiting for {what}:\n{log_tail}")
            time.sleep(POLL_SECONDS)
        return time.time()

    def _exists(self, query: str, params: tuple) -> bool:
        with self.conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchone()[0]

    def sales_loaded(self, store_id: int) -> bool:
        return self._exists("SELECT EXISTS (SELECT FROM etl.sales WHERE store_id = %s)", (store_id,))

    def day_refreshed(self, store_id: int, day: date) -> bool:
        query = "SELECT EXISTS (SELECT FROM etl.store_daily_sales WHERE store_id = %s AND sale_date = %s)"
        return self._exists(query, (store_id, day))

    def alerted(self, store_name: str) -> bool:
        return any(store_name in json.dumps(m) for m in list(self.slack.messages))

    def flagging_evaluation(self, store_name: str) -> dg.EventLogEntry | None:
        """The first evaluation of sales_drop_check that flagged the store (its metadata names it)."""
        records = self.instance.event_log_storage.get_asset_check_execution_history(CHECK_KEY, limit=20)
        flagged = [
            r.event
            for r in records
            if r.event is not None
            and r.event.dagster_event is not None
            and r.event.dagster_event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
            and store_name in repr(r.event.dagster_event.asset_check_evaluation_data.metadata)
        ]
        return min(flagged, key=lambda e: e.timestamp, default=None)

    def refresh_run_before(self, moment: float) -> dg.RunRecord:
        """The run of the last refresh of store_daily_sales before `moment` (the one the check then judged)."""
        records = self.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=CHECK_KEY.asset_key, before_timestamp=moment), limit=1
        ).records
        if not records:
            raise BenchmarkError("no refresh of store_daily_sales before the check's evaluation")
        return self.instance.get_run_record_by_id(records[0].run_id)

    def load_run(self, created_after: float) -> dg.RunRecord | None:
        after = datetime.fromtimestamp(created_after, timezone.utc)
        records = self.instance.get_run_records(
            dg.RunsFilter(job_name=load_batches_job.name, created_after=after)
        )
        return min(records, key=lambda r: r.create_timestamp, default=None)

    def runs_between(self, start: float, end: float) -> dict[str, int]:
        """Runs created in [start, end], counted by job (the runs a drop cost on its way to the alert)."""
        records = self.instance.get_run_records(
            dg.RunsFilter(created_after=datetime.fromtimestamp(start, timezone.utc))
        )
        jobs = [r.dagster_run.job_name for r in records if epoch(r.create_timestamp) <= end]
        return {job: jobs.count(job) for job in sorted(set(jobs))}

    def ticks(self, after: float) -> list[tuple[str, InstigatorTick]]:
        """(sensor name, tick) of every sensor tick started after `after` (schedules send no alerts)."""
        return [
            (state.instigator_name, tick)
            for state in self.instance.all_instigator_state()
            if state.instigator_type != InstigatorType.SCHEDULE
            for tick in self.instance.get_ticks(state.instigator_origin_id, state.selector_id, after=after)
        ]


def requesting_tick(ticks: list[tuple[str, InstigatorTick]], run_id: str) -> float | None:
    """When the tick that requested `run_id` started."""
    return next((tick.timestamp for _, tick in ticks if run_id in tick.run_ids), None)


def tick_running_at(ticks: list[tuple[str, InstigatorTick]], moment: float) -> tuple[str, float] | None:
    """(sensor, start) of the last tick started before `moment` and ending after it, give or take a poll, of a
    sensor that may send alerts: the tick that sent the message (whichever sensor the alerts code uses)."""
    running = [
        (tick.timestamp, name)
        for name, tick in ticks
        if name not in NOT_ALERTING
        and tick.timestamp <= moment
        and (tick.end_timestamp or moment) >= moment - 2 * POLL_SECONDS
    ]
    return (max(running)[1], max(running)[0]) if running else None
