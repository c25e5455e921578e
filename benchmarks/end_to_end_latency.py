"""Scenario `latency`: a small batch file dropped -> rows in the tables -> store_daily_sales refreshed ->
sales-drop alert at a (fake) Slack, through the real dagster-daemon with default settings; median of 5 drops.

Why: what a store manager sees is the alert, not the load. Every step on the way is a sensor or a run of the
real daemon (dagster.local.yaml: PostgreSQL storage, queued runs; code location started by the daemon; the
default run launcher, a process per run), so the time goes where it goes in `make dev`: the file's settle
time, the sensors' intervals (batch_file_sensor, pending_sales_refresh_sensor for the refresh,
analytics_automation_sensor for the check, alert_delivery_sensor: 10 s each), each run's start-up, and the work
itself. Each drop is timed from the file's appearance, stage by stage, from
Dagster's own records (runs, check evaluations) and from polling PostgreSQL and the fake Slack every 0.1 s.

The files: latency_batches.py (a steady history up to yesterday, one store dropping -90% yesterday per drop).
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from benchmarks.backlog import (
    daemon_environment,
    dagster_home_and_workspace,
    open_instance,
    running_daemon,
)
from benchmarks.latency_probe import LatencyProbe, epoch, requesting_tick, tick_running_at
from benchmarks.report import Target, format_table
from benchmarks.support import BenchmarkError, BenchServer, log, sqlalchemy_url
from etl_project.defs.sales_analytics.pending_refresh import PENDING_TICK_SECONDS
from etl_project.defs.sales_analytics.sensors import ANALYTICS_TICK_SECONDS
from etl_testkit.fake_slack import BOT_TOKEN, FakeSlack
from etl_testkit.latency_batches import (
    FIRST_DROP_ID,
    drop_store_name,
    verdict_settings,
    write_drop,
    write_history,
    yesterday_in,
)

TARGET_SECONDS = 30.0
#: The platform's default settle time (ETL_FILE_SETTLE_SECONDS): a younger file is still being written.
SETTLE_SECONDS = 5.0
#: Stages of one drop, in order; each ends at the moment named. Sensor waits are split into waiting for the
#: tick and the tick's own work (its evaluation, up to the run it requested or the message it sent).
STAGES = (
    ("settled", "file settles (ETL_FILE_SETTLE_SECONDS, 5 s)"),
    ("file_tick_started", "waiting for a batch_file_sensor tick (10 s interval)"),
    ("load_requested", "the tick lists the directory and requests the load run"),
    ("load_started", "load run starts (queue + run process start-up)"),
    ("rows_in_tables", "rows committed in etl.sales"),
    ("load_finished", "load run ends (materialisations recorded)"),
    (
        "refresh_tick_started",
        f"waiting for a pending_sales_refresh_sensor tick ({PENDING_TICK_SECONDS} s interval)",
    ),
    ("refresh_requested", "the tick finds the load's row in the change log, requests the refresh"),
    # The three stages above are 0 when the load run refreshed the table itself (load_batches_job does).
    ("refresh_started", "refresh run starts (queue + run process start-up)"),
    ("table_refreshed", "store_daily_sales holds the drop day"),
    (
        "check_tick_started",
        f"waiting for an analytics_automation_sensor tick ({ANALYTICS_TICK_SECONDS} s interval)",
    ),
    ("check_requested", "the tick sees the new data version of store_daily_sales, requests the check"),
    ("check_started", "check run starts (queue + run process start-up)"),
    ("check_evaluated", "sales_drop_check evaluated"),
    (
        "alert_tick_started",
        "waiting for a tick of alert_delivery_sensor (the outbox's one sender, every 10 s)",
    ),
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


def _measure_drop(
    probe: LatencyProbe, index: int, shared: Path, yesterday: date, timeout_s: float
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
    check = probe.instance.get_run_record_by_id(evaluation.run_id)
    refresh = probe.refresh_run_before(evaluation.timestamp)
    ticks = probe.ticks(dropped - 1)
    alert_tick = tick_running_at(ticks, alert_seen)
    moments = {
        "settled": dropped + SETTLE_SECONDS,
        "file_tick_started": requesting_tick(ticks, load.dagster_run.run_id),
        "load_requested": epoch(load.create_timestamp),
        "load_started": load.start_time,
        "rows_in_tables": rows_seen,
        "load_finished": load.end_time,
        "refresh_tick_started": requesting_tick(ticks, refresh.dagster_run.run_id),
        "refresh_requested": epoch(refresh.create_timestamp),
        "refresh_started": refresh.start_time,
        "table_refreshed": refreshed_seen,
        "check_tick_started": requesting_tick(ticks, check.dagster_run.run_id),
        "check_requested": epoch(check.create_timestamp),
        "check_started": check.start_time,
        "check_evaluated": evaluation.timestamp,
        "alert_tick_started": alert_tick[1] if alert_tick else None,
        "alert_received": alert_seen,
    }
    timeline: dict[str, object] = {
        "alert_sensor": alert_tick[0] if alert_tick else None,
        "refreshed_by_load_run": refresh.dagster_run.run_id == load.dagster_run.run_id,
        "runs": probe.runs_between(dropped, alert_seen),
    }
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
            probe = LatencyProbe(etl_url, instance, slack, daemon, daemon_log)
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
        medians[s]
        for s in (
            "settled",
            "file_tick_started",
            "refresh_tick_started",
            "check_tick_started",
            "alert_tick_started",
        )
    )
    start_up = medians["load_started"] + medians["refresh_started"] + medians["check_started"]
    senders = sorted({str(t["alert_sensor"]) for t in result.timelines})
    runs = [sum(dict(t.get("runs") or {}).values()) for t in result.timelines]
    by_load = sum(1 for t in result.timelines if t.get("refreshed_by_load_run"))
    return "\n".join(
        [
            f"End-to-end latency through the real daemon, default intervals ({result.drops} drops of one small "
            f"batch each; {', '.join(f'{k}={v}' for k, v in result.settings.items())}; log: {result.daemon_log}):",
            f"file dropped -> Slack alert: median {statistics.median(result.totals()):.1f} s (drops: {totals} s)",
            format_table(["stage ends when", "median s", "share", "what"], rows),
            f"Of the {whole:.1f} s: {waiting:.1f} s waiting for the settle time and sensor ticks, {start_up:.1f} s "
            f"starting the runs, {whole - waiting - start_up:.1f} s the ticks' and runs' own work. "
            f"Alerts sent by: {', '.join(senders)}.",
            f"Runs from the drop to its alert: {', '.join(map(str, runs))} (median {statistics.median(runs)}); "
            f"the load run refreshed store_daily_sales itself in {by_load} of {len(runs)} drops.",
        ]
    )
