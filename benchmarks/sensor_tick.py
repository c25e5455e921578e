"""Scenario `tick`: one evaluation of batch_file_sensor when the platform has already seen many files.

Why: the sensor lists the whole shared directory and compares it with every registered partition and every
row of utilities.processed_files on each tick (every 10 s). That is cheap for a day's files and becomes the
bottleneck after months; Dagster kills a sensor evaluation after 60 s. The target keeps a tick under 2 s at
100,000 processed files, and the one new file among them must still be found.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import dagster as dg
import psycopg2

from benchmarks.report import Target, format_table
from benchmarks.support import BenchmarkError, BenchServer, log, sqlalchemy_url
from etl_project.defs.ingestion.partitions import batch_partitions
from etl_project.defs.ingestion.sensors import batch_file_sensor
from etl_project.resources import EtlDatabase, SharedDirectory
from etl_project.store import processed_files

MAX_TICK_SECONDS = 2.0
TICKS = 3
NEW_BATCH_ID = "tick_new_arrival"
#: Partitions are registered in chunks, as a sensor would over many ticks (one INSERT of 100k is not typical).
PARTITION_CHUNK = 10_000
#: Files are dated this far in the past, well beyond any settle time.
FILE_AGE_SECONDS = 3600


@dataclass
class TickResult:
    processed_files: int
    tick_seconds: list[float]
    median_tick_s: float
    new_file_detected: bool
    setup_seconds: dict[str, float]
    breakdown_median_s: dict[str, float]
    targets: list[Target] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "targets": [t.as_dict() for t in self.targets]}


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def create_seen_files(directory: Path, batch_ids: list[str]) -> int:
    """Empty `<id>.csv` files dated in the past (the sensor looks only at names, sizes and times).

    Returns their common modification time in nanoseconds.
    """
    directory.mkdir(parents=True)
    past = time.time_ns() - FILE_AGE_SECONDS * 1_000_000_000
    for batch_id in batch_ids:
        path = directory / f"{batch_id}.csv"
        path.touch()
        os.utime(path, ns=(past, past))
    return past


def record_processed(url: str, batch_ids: list[str], mtime_ns: int) -> None:
    """Every file recorded as loaded with its size and time, as `load_batch` records it, in one COPY."""
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            processed_files.record_loaded_versions(cur, ((b, 0, mtime_ns) for b in batch_ids))
    finally:
        conn.close()


def _evaluate(instance: dg.DagsterInstance, resources: dict[str, object]) -> tuple[float, list[str]]:
    """One tick as the daemon evaluates it: a fresh context, the sensor function; returns time and new keys."""
    context = dg.build_sensor_context(instance=instance, resources=resources)
    context.log.setLevel(logging.WARNING)  # not the sensor's "1 new batch files" line on every tick
    start = time.perf_counter()
    result = batch_file_sensor(context)
    seconds = time.perf_counter() - start
    if not isinstance(result, dg.SensorResult):
        return seconds, []
    return seconds, [k for r in result.dynamic_partitions_requests or [] for k in r.partition_keys]


def run_sensor_tick_scenario(server: BenchServer, *, files: int, run_dir: Path) -> TickResult:
    """Seen files everywhere (directory, partitions, processed_files) plus one new one; time three ticks."""
    seen = [f"tick_{i:07d}" for i in range(files)]
    directory = run_dir / "tick-files"
    setup: dict[str, float] = {}
    log(f"tick: creating {files:,} files, processed_files rows and partitions")
    start = time.perf_counter()
    mtime_ns = create_seen_files(directory, [*seen, NEW_BATCH_ID])
    setup["create files"] = time.perf_counter() - start
    etl_url = server.fresh_database("etl_bench_tick")
    setup["COPY processed_files"] = _timed(lambda: record_processed(etl_url, seen, mtime_ns))
    storage_url = sqlalchemy_url(server.fresh_database("etl_bench_tick_dagster", migrate=False))
    shared = SharedDirectory(path=str(directory), settle_seconds=0)
    resources = {"etl_database": EtlDatabase(url=etl_url), "shared_directory": shared}
    with dg.instance_for_test(overrides={"storage": {"postgres": {"postgres_url": storage_url}}}) as instance:

        def register() -> None:
            for start in range(0, files, PARTITION_CHUNK):
                instance.add_dynamic_partitions(batch_partitions.name, seen[start : start + PARTITION_CHUNK])

        setup["register partitions"] = _timed(register)
        ticks, detected = [], True
        for attempt in range(1, TICKS + 1):
            seconds, new = _evaluate(instance, resources)
            log(f"tick: evaluation {attempt}/{TICKS}: {seconds:.3f} s, new: {new}")
            ticks.append(seconds)
            detected = detected and new == [NEW_BATCH_ID]
        parts = {
            "list directory (scandir + stat)": lambda: shared.complete_batch_files(),
            "read partitions from the instance": lambda: instance.get_dynamic_partitions(
                batch_partitions.name
            ),
        }
        breakdown = {name: statistics.median(_timed(f) for _ in range(TICKS)) for name, f in parts.items()}
        breakdown["the rest (processed_files query, comparison)"] = statistics.median(ticks) - sum(
            breakdown.values()
        )
    if not detected:
        raise BenchmarkError(f"the sensor did not report exactly the new file {NEW_BATCH_ID!r} on every tick")
    median = statistics.median(ticks)
    return TickResult(
        processed_files=files,
        tick_seconds=ticks,
        median_tick_s=median,
        new_file_detected=detected,
        setup_seconds=setup,
        breakdown_median_s=breakdown,
        targets=[
            Target(f"sensor tick at {files:,} processed files (median)", median, MAX_TICK_SECONDS, "<", " s")
        ],
    )


def render_tick(result: TickResult) -> str:
    rows = [
        ["ticks (s)", ", ".join(f"{s:.3f}" for s in result.tick_seconds)],
        ["median tick (s)", f"{result.median_tick_s:.3f}"],
        ["new file detected on every tick", "yes" if result.new_file_detected else "NO"],
        *([f"  of which: {name} (s)", f"{s:.3f}"] for name, s in result.breakdown_median_s.items()),
    ]
    return "\n".join(
        [
            f"Sensor tick: {result.processed_files:,} processed files + 1 new "
            "(files, partitions and processed_files rows all present)",
            format_table(["measure", "value"], rows),
        ]
    )
