"""Scenario `soak`: thousands of small batch files through the real daemon, webserver and code server, with
housekeeping running at an accelerated cadence; per 1,000 batches, whether anything keeps growing.

Why: every other scenario starts from a fresh instance. A year of minute batches is 525,600 batches; this runs a
few thousand in minutes, with the retentions shortened from days to minutes (ETL_RUN_RETENTION_DAYS,
ETL_FAILED_RUN_RETENTION_DAYS, ETL_PARTITION_RETENTION_DAYS and ETL_TICK_LOG_RETENTION_DAYS in fractions of a
day: Dagster's own tick retention counts whole days) and housekeeping every
minute (ETL_HOUSEKEEPING_SCHEDULE, ETL_PARTITION_RETENTION_TICK_SECONDS), so that runs and partitions expire and
are deleted within the soak. Files appear at --soak-rate a minute; how runs are grouped is the platform's own.
The arithmetic (intervals, flat/bounded verdicts) is etl_testkit/soak_verdicts.py.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.backlog import daemon_environment, dagster_home_and_workspace, open_instance
from benchmarks.report import Target, format_table
from benchmarks.soak_observer import SoakObserver
from benchmarks.soak_processes import running_deployment
from benchmarks.soak_storage import DEFAULT_RUNS_PER_MINUTE, MINUTES_A_YEAR, project_year, run_costs
from benchmarks.support import BenchmarkError, BenchServer, log, sqlalchemy_url
from etl_testkit.batch_files import write_generated_batch
from etl_testkit.fake_slack import BOT_TOKEN, FakeSlack
from etl_testkit.soak_verdicts import (
    Interval,
    Sample,
    Verdict,
    judge,
    soak_rules,
    split_intervals,
)

SAMPLE_SECONDS = 5.0
SENSOR_NAME = "batch_file_sensor"


@dataclass
class SoakResult:
    batches: int
    rate_per_minute: float
    retention_minutes: float
    interval_batches: int
    seconds: float
    intervals: list[Interval]
    verdicts: list[Verdict]
    runs_by_job: dict[str, int]
    runs_failed: dict[str, int]
    projection: dict[str, float]
    logs: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["verdicts"] = [v.as_dict() for v in self.verdicts]
        data["targets"] = [t.as_dict() for t in self.targets]
        return data


def write_soak_files(staging: Path, count: int) -> list[Path]:
    """`count` small valid batches of the generator's default shape (like one generated a minute), written
    before the soak starts so that writing them weighs on no measurement."""
    staging.mkdir(parents=True)
    return [write_generated_batch(staging, f"soak_{i:05d}", seed=i) for i in range(1, count + 1)]


def soak_environment(
    etl_url: str, storage_url: str, shared: Path, retention_minutes: float, slack_url: str
) -> dict[str, str]:
    """The platform's settings for the soak: defaults, except retentions of minutes and housekeeping every
    minute, no settle time (files are renamed into place whole), no generator, a fake Slack."""
    days = str(retention_minutes / 1440)
    return daemon_environment(
        DAGSTER_POSTGRES_URL=storage_url,
        ETL_DATABASE_URL=etl_url,
        ETL_SHARED_DATA_DIR=str(shared),
        ETL_FILE_SETTLE_SECONDS="0",
        ETL_GENERATOR_ENABLED="false",
        ETL_RUN_RETENTION_DAYS=days,
        ETL_FAILED_RUN_RETENTION_DAYS=days,
        ETL_PARTITION_RETENTION_DAYS=days,
        ETL_TICK_LOG_RETENTION_DAYS=days,  # Dagster's tick retention counts whole days
        ETL_HOUSEKEEPING_SCHEDULE="* * * * *",
        ETL_PARTITION_RETENTION_TICK_SECONDS="60",
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_CHANNEL="#bench-soak",
        SLACK_API_URL=slack_url,
    )


def run_soak_scenario(
    server: BenchServer,
    *,
    batches: int,
    rate_per_minute: float,
    retention_minutes: float,
    interval_batches: int,
    run_dir: Path,
    timeout_s: float | None = None,
) -> SoakResult:
    """Drop `batches` files at `rate_per_minute`, sample every few seconds until all are done; judge."""
    etl_url = server.fresh_database("etl_bench_soak")
    storage_url = sqlalchemy_url(server.fresh_database("etl_bench_soak_dagster", migrate=False))
    folder = run_dir / "soak"
    home, _ = dagster_home_and_workspace(folder)
    shared, staging = folder / "shared_data", folder / "staging"
    shared.mkdir()
    log(f"soak: writing {batches} batch files")
    files = write_soak_files(staging, batches)
    timeout_s = timeout_s or 2 * 60 * batches / rate_per_minute + 600
    samples: list[Sample] = []
    instance = open_instance(home, storage_url)
    with FakeSlack() as slack, instance:
        env = soak_environment(etl_url, storage_url, shared, retention_minutes, slack.api_url)
        with running_deployment(home, folder, env) as deployment:
            observer = SoakObserver(etl_url, storage_url, instance, deployment)
            log(
                f"soak: code server, webserver, daemon up ({deployment.webserver_url}); dropping {rate_per_minute:g}/min"
            )
            samples.append(observer.sample())
            started = samples[0].at
            dropped, next_sample = 0, started + SAMPLE_SECONDS
            first_costs = None
            while samples[-1].batches_done < batches:
                now = time.time()
                if now - started > timeout_s:
                    raise BenchmarkError(
                        f"soak: {samples[-1].batches_done} of {batches} done after {timeout_s:.0f} s"
                    )
                due = min(batches, int((now - started) * rate_per_minute / 60) + 1)
                for path in files[dropped:due]:
                    os.replace(path, shared / path.name)
                dropped = max(dropped, due)
                if now >= next_sample:
                    samples.append(observer.sample())
                    next_sample = now + SAMPLE_SECONDS
                    if first_costs is None and samples[-1].batches_done >= interval_batches:
                        first_costs = (run_costs(observer.storage_url), samples[-1].dagster_db_bytes)
                    if len(samples) % 12 == 0:
                        last = samples[-1]
                        log(
                            f"soak: {last.batches_done} done, {dropped} dropped, {last.runs_stored} runs stored, "
                            f"Dagster db {last.dagster_db_bytes / 1e6:.1f} MB, {last.partitions} partitions"
                        )
                time.sleep(0.2)
            ticks = observer.file_sensor_ticks()
            runs = observer.runs
            end_costs = run_costs(observer.storage_url)
    empty = samples[0].dagster_db_bytes
    projection = None
    if first_costs is not None:
        costs, first_size = first_costs
        projection = project_year(costs, first_size - empty, end_costs, samples[-1].dagster_db_bytes - empty)
    raw = {
        "samples": [asdict(x) for x in samples],
        "ticks": ticks,
        "runs": {k: asdict(v[0]) for k, v in runs.items()},
    }
    (folder / "samples.json").write_text(json.dumps(raw) + "\n", encoding="utf-8")
    rules = soak_rules(sorted(samples[-1].rss_mb))
    intervals = split_intervals(samples, [timing for timing, _, _ in runs.values()], ticks, interval_batches)
    verdicts = judge(intervals, rules)
    result = SoakResult(
        batches=batches,
        rate_per_minute=rate_per_minute,
        retention_minutes=retention_minutes,
        interval_batches=interval_batches,
        seconds=round(samples[-1].at - started, 1),
        intervals=intervals,
        verdicts=verdicts,
        runs_by_job=dict(Counter(job for _, job, _ in runs.values())),
        runs_failed=dict(Counter(job for _, job, status in runs.values() if status == "FAILURE")),
        projection=projection.as_dict() if projection else {},
        logs={name: str(path) for name, path in deployment.logs.items()},
    )
    if result.projection:
        etl_mb_per_batch = sum(i.etl_db_growth_mb for i in intervals) / intervals[-1].batches
        result.projection["etl_gb_a_year_default_cadence"] = etl_mb_per_batch * MINUTES_A_YEAR / 1000
        result.projection["first_interval_runs_deleted"] = intervals[0].runs_deleted
    result.targets = [
        Target(f"soak: {v.metric}, last {interval_batches:,} batches", v.last, v.limit or 0.0, "<=")
        for v in verdicts
    ]
    failing = [v.metric for v in verdicts if not v.ok]
    if failing:
        result.errors["verdict"] = "not flat or bounded: " + ", ".join(failing)
    if result.runs_failed:
        result.errors["runs"] = f"failed runs: {result.runs_failed}"
    return result


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def render_soak(result: SoakResult) -> str:
    names = sorted({n for i in result.intervals for n in i.rss_max_mb})
    headers = [
        "batches",
        "s",
        "runs +/-",
        "stored",
        "parts",
        "logs",
        "dagster +MB",
        "etl +MB",
        "tick s",
        "start-up s",
    ]
    headers += ["UI s", *(f"{n} MB" for n in names)]
    rows = [
        [
            f"{i.batches:,}",
            f"{i.seconds:.0f}",
            f"+{i.runs_created}/-{i.runs_deleted}",
            str(i.runs_stored),
            str(i.partitions),
            str(i.compute_log_files),
            _number(i.dagster_db_growth_mb, 1),
            _number(i.etl_db_growth_mb, 1),
            _number(i.tick_median_s),
            _number(i.startup_median_s),
            _number(i.ui_query_median_s),
            *(_number(i.rss_max_mb.get(n), 0) for n in names),
        ]
        for i in result.intervals
    ]
    verdict_rows = [
        [v.metric, _number(v.first), _number(v.last), _number(v.limit), v.word] for v in result.verdicts
    ]
    return "\n".join(
        [
            f"Soak: {result.batches:,} batches at {result.rate_per_minute:g}/min, runs and partitions kept "
            f"{result.retention_minutes:g} min, housekeeping every minute; {result.seconds:.0f} s; runs by job "
            f"{result.runs_by_job}; failed {result.runs_failed or 'none'}",
            format_table(headers, rows),
            "Last interval against the first (limit = factor x first + slack, etl_testkit/soak_verdicts.py):",
            format_table(["metric", "first", "last", "limit", "verdict"], verdict_rows),
            _render_projection(result.projection),
            f"Logs: {', '.join(f'{k}: {v}' for k, v in result.logs.items())}",
        ]
    )


def _render_projection(p: dict[str, float]) -> str:
    if not p:
        return "No yearly projection: the first interval had no load run or no other run."
    return (
        f"A year at the default cadence ({DEFAULT_RUNS_PER_MINUTE} runs a minute, one batch), from the event logs "
        f"of the first interval's runs ({p['first_interval_runs_deleted']:.0f} runs deleted in it): a load run "
        f"{p['load_run_fixed_kb']:.1f} KB + {p['load_run_per_batch_kb']:.1f} KB a batch, another run "
        f"{p['other_run_kb']:.1f} KB of event log; the database {p['db_bytes_per_event_byte_growing']:.2f}x "
        f"that while growing, {p['db_bytes_per_event_byte_steady']:.2f}x at the end. Without housekeeping "
        f"{p['without_housekeeping_gb_a_year']:.1f} GB a year ({p['runs_a_year']:,.0f} runs), growing; with it "
        f"{p['with_housekeeping_gb']:.1f} GB ({p['with_housekeeping_runs_kept']:,.0f} runs kept), flat. ETL "
        f"tables {p['etl_gb_a_year_default_cadence']:.1f} GB a year, kept by design."
    )
