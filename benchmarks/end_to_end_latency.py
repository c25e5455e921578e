"""Scenario `latency`: a small batch file dropped -> rows in the tables -> store_daily_sales refreshed ->
sales-drop alert at a (fake) Slack, through the real dagster-daemon with default settings; median of 5 drops.

Why: what a store manager sees is the alert, not the load. Every step on the way is a sensor or a run of the
real daemon (dagster.local.yaml: PostgreSQL storage, queued runs; code location started by the daemon; the
default run launcher, a process per run), so the time goes where it goes in `make dev`: the file's settle
time, the sensors' intervals (batch_file_sensor 10 s, analytics_automation_sensor 30 s, the alert sensor 30 s),
each run's start-up, and the work itself. Each drop is timed from the file's appearance, stage by stage, from
Dagster's own records (runs, check evaluations) and from polling PostgreSQL and the fake Slack every 0.1 s.

The files: latency_batches.py (a steady history up to yesterday, one store dropping -90% yesterday per drop).
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import dagster as dg
import psycopg2
from dagster._core.scheduler.instigation import InstigatorTick

from benchmarks.backlog import (
    daemon_environment,
    dagster_home_and_workspace,
    open_instance,
    running_daemon,
)
from benchmarks.latency_batches import (
    FIRST_DROP_ID,
    drop_store_name,
    verdict_settings,
    write_drop,
    write_history,
    yesterday_in,
)
from benchmarks.report import Target, format_table
from benchmarks.support import BenchmarkError, BenchServer, log, sqlalchemy_url, tail
from etl_project.defs.ingestion.jobs import load_batches_job
from etl_project_tests.fake_slack import BOT_TOKEN, FakeSlack

TARGET_SECONDS = 30.0
#: The platform's default settle time (ETL_FILE_SETTLE_SECONDS): a younger file is still being written.
SETTLE_SECONDS = 5.0
POLL_SECONDS = 0.1
#: Instigators that never send alerts (the generator's and the replay's schedules never tick here).
NOT_ALERTING = {"batch_file_sensor", "analytics_automation_sensor", "batch_partition_retention_sensor"}
CHECK_KEY = dg.AssetCheckKey(dg.AssetKey("store_daily_sales"), "sales_drop_check")
#: Stages of one drop, in order; each ends at the moment named. Sensor waits are split into waiting for the
#: tick and the tick's own work (its evaluation, up to the run it requested or the message it sent).
STAGES = (
    ("settled", "file settles (ETL_FILE_SETTLE_SECONDS, 5 s)"),
    ("file_tick_started", "waiting for a batch_file_sensor tick (10 s interval)"),
    ("load_requested", "the tick lists the directory and requests the load run"),
    ("load_started", "load run starts (queue + run process start-up)"),
    ("rows_in_tables", "rows committed in etl.sales"),
    ("load_finished", "load run ends (materialisations recorded)"),
    ("automation_tick_started", "waiting for an analytics_automation_sensor tick (30 s interval)"),
    ("refresh_requested", "the tick evaluates automation conditions, requests the refresh"),
    ("refresh_started", "refresh run starts (queue + run process start-up)"),
    ("table_refreshed", "store_daily_sales holds the drop day"),
    ("check_evaluated", "sales_drop_check evaluated (same run)"),
    ("alert_tick_started", "waiting for a tick of the alert sensor (30 s interval)"),
    ("alert_received", "the tick posts the alert; the fake Slack has it"),
)


@dataclass
class LatencyResult:
    drops: int
    settings: dict[str, str]
    #: Per drop: seconds from the file's appearance to the end of each stage.
    timelines: list[dict[str, object]]
    daemon_log: str
    targets: list[Target] = field(default_factory=list)

    def totals(self) -> list[float]:
        return [float(t["alert_received"]) for t in self.timelines]

    def stage_medians(self) -> dict[str, float]:
        """Median duration of each stage (from the end of the stage before)."""
        names = [name for name, _ in STAGES]
        return {
            name: statistics.median(t[name] - (t[names[i - 1]] if i else 0.0) for t in self.timelines)
            for i, name in enumerate(names)
        }

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "targets": [t.as_dict() for t in self.targets]}


def _epoch(moment: datetime) -> float:
    """Dagster stores run times as naive UTC datetimes."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


class _Probe:
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

    def load_run(self, created_after: float) -> dg.RunRecord | None:
        after = datetime.fromtimestamp(created_after, timezone.utc)
        records = self.instance.get_run_records(
            dg.RunsFilter(job_name=load_batches_job.name, created_after=after)
        )
        return min(records, key=lambda r: r.create_timestamp, default=None)

    def ticks(self, after: float) -> list[tuple[str, InstigatorTick]]:
        """(sensor name, tick) of every sensor tick started after `after`."""
        return [
            (state.instigator_name, tick)
            for state in self.instance.all_instigator_state()
            for tick in self.instance.get_ticks(state.instigator_origin_id, state.selector_id, after=after)
        ]


def _requesting_tick(ticks: list[tuple[str, InstigatorTick]], run_id: str) -> float | None:
    """When the tick that requested `run_id` started."""
    return next((tick.timestamp for _, tick in ticks if run_id in tick.run_ids), None)


def _tick_running_at(ticks: list[tuple[str, InstigatorTick]], moment: float) -> tuple[str, float] | None:
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


def _measure_drop(
    probe: _Probe, index: int, shared: Path, yesterday: date, timeout_s: float
) -> dict[str, object]:
    """Drop one file; the end of each stage, in seconds after the file appeared."""
    store_id, name = FIRST_DROP_ID + index, drop_store_name(index)
    write_drop(shared, index, yesterday)
    dropped = time.time()
    deadline = dropped + timeout_s
    rows_seen = probe.wait(f"drop {index}'s sales", lambda: probe.sales_loaded(store_id), deadline)
    refreshed_seen = probe.wait(
        f"drop {index} in store_daily_sales", lambda: probe.day_refreshed(store_id, yesterday), deadline
    )
    alert_seen = probe.wait(f"the Slack alert naming {name}", lambda: probe.alerted(name), deadline)
    load, evaluation = probe.load_run(dropped), probe.flagging_evaluation(name)
    if load is None or load.start_time is None or load.end_time is None or evaluation is None:
        raise BenchmarkError(f"drop {index}: no finished load run or no flagging evaluation in the instance")
    refresh = probe.instance.get_run_record_by_id(evaluation.run_id)
    ticks = probe.ticks(dropped - 1)
    alert_tick = _tick_running_at(ticks, alert_seen)
    moments = {
        "settled": dropped + SETTLE_SECONDS,
        "file_tick_started": _requesting_tick(ticks, load.dagster_run.run_id),
        "load_requested": _epoch(load.create_timestamp),
        "load_started": load.start_time,
        "rows_in_tables": rows_seen,
        "load_finished": load.end_time,
        "automation_tick_started": _requesting_tick(ticks, refresh.dagster_run.run_id),
        "refresh_requested": _epoch(refresh.create_timestamp),
        "refresh_started": refresh.start_time,
        "table_refreshed": refreshed_seen,
        "check_evaluated": evaluation.timestamp,
        "alert_tick_started": alert_tick[1] if alert_tick else None,
        "alert_received": alert_seen,
    }
    timeline: dict[str, object] = {"alert_sensor": alert_tick[0] if alert_tick else None}
    latest = dropped
    for stage, _ in STAGES:  # a moment not found, or polled a little late, takes the one before
        latest = max(latest, moments[stage] or latest)
        timeline[stage] = round(latest - dropped, 2)
    log(f"latency: drop {index}: alert after {timeline['alert_received']:.1f} s")
    return timeline


def run_latency_scenario(
    server: BenchServer, *, drops: int, run_dir: Path, timeout_s: float = 180.0, seed: int = 13
) -> LatencyResult:
    """Load the history, then drop `drops` files one after another (each after the previous one's alert and
    a random pause, so that drops land at different points of the sensors' cycles)."""
    etl_url = server.fresh_database("etl_bench_latency")
    storage_url = sqlalchemy_url(server.fresh_database("etl_bench_latency_dagster", migrate=False))
    folder = run_dir / "latency"
    home, workspace = dagster_home_and_workspace(folder)
    shared, daemon_log = folder / "shared_data", folder / "daemon.log"
    settings = verdict_settings()
    yesterday = yesterday_in(settings["ETL_TIMEZONE"])
    write_history(shared, yesterday)
    pause = random.Random(seed)
    timelines = []
    with FakeSlack() as slack:
        env = daemon_environment(
            DAGSTER_POSTGRES_URL=storage_url,
            ETL_DATABASE_URL=etl_url,
            ETL_SHARED_DATA_DIR=str(shared),
            ETL_GENERATOR_ENABLED="false",
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_CHANNEL="#bench-alerts",
            SLACK_API_URL=slack.api_url,
            **settings,
        )
        instance = open_instance(home, storage_url)
        with instance, running_daemon(home, workspace, env, daemon_log) as daemon:
            probe = _Probe(etl_url, instance, slack, daemon, daemon_log)
            try:
                log(f"latency: daemon started (log: {daemon_log}); loading the history ({settings})")
                started = time.time()
                probe.wait(
                    "the history in store_daily_sales",
                    lambda: probe.day_refreshed(1, yesterday),
                    started + 300,
                )
                log(f"latency: history loaded and refreshed after {time.time() - started:.1f} s")
                for index in range(1, drops + 1):
                    time.sleep(pause.uniform(0, 30))
                    timelines.append(_measure_drop(probe, index, shared, yesterday, timeout_s))
            finally:
                probe.close()
    result = LatencyResult(
        drops=drops,
        settings=settings,
        timelines=timelines,
        daemon_log=str(daemon_log),
    )
    result.targets = [
        Target(
            f"end-to-end latency, file dropped -> Slack alert (median of {drops})",
            statistics.median(result.totals()),
            TARGET_SECONDS,
            "<=",
            " s",
        )
    ]
    return result


def render_latency(result: LatencyResult) -> str:
    medians = result.stage_medians()
    whole = sum(medians.values())
    rows = [
        [stage, f"{medians[stage]:.1f}", f"{100 * medians[stage] / whole:.0f}%", what]
        for stage, what in STAGES
    ]
    totals = ", ".join(f"{t:.1f}" for t in result.totals())
    waiting = sum(
        medians[s] for s in ("settled", "file_tick_started", "automation_tick_started", "alert_tick_started")
    )
    start_up = medians["load_started"] + medians["refresh_started"]
    senders = sorted({str(t["alert_sensor"]) for t in result.timelines})
    return "\n".join(
        [
            f"End-to-end latency through the real daemon, default intervals ({result.drops} drops of one small "
            f"batch each; {', '.join(f'{k}={v}' for k, v in result.settings.items())}; log: {result.daemon_log}):",
            f"file dropped -> Slack alert: median {statistics.median(result.totals()):.1f} s (drops: {totals} s)",
            format_table(["stage ends when", "median s", "share", "what"], rows),
            f"Of the {whole:.1f} s: {waiting:.1f} s waiting for the settle time and sensor ticks, {start_up:.1f} s "
            f"starting the two runs, {whole - waiting - start_up:.1f} s the ticks' and runs' own work. "
            f"Alerts sent by: {', '.join(senders)}.",
        ]
    )
