"""What a run costs the Dagster database, and a year of it at the default cadence, from the soak's own runs.

Why not bytes per batch or per run straight away: the soak drops files faster than one a sensor tick, so a load
run carries tens of batches, where at the default cadence (a batch a minute) each batch has its own load run.
So each run's event log is measured (rows and bytes, in Dagster 1.13's `event_logs` table), a load run's bytes
are fitted as a fixed part plus a part per batch, and the default cadence is rebuilt from those parts: a minute
is one load run of one batch plus the other runs of that minute (4.1 runs in all, measured in `make dev`), each
costing what the soak's non-load runs cost. Event-log bytes become database bytes through the ratio the soak
measured (indexes, run and tag rows, and after deletions the space VACUUM keeps for reuse).
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass

import psycopg2

MINUTES_A_YEAR = 525_600
#: Runs a minute at the default cadence (a generated batch a minute), measured in `make dev` (operations notes).
DEFAULT_RUNS_PER_MINUTE = 4.1
LOAD_JOB = "load_batches_job"
#: One row per run: its job, its event-log rows and bytes, the batches (raw_events partitions) it materialised.
_RUN_COSTS = """
SELECT r.pipeline_name, count(e.id), coalesce(sum(pg_column_size(e.*)), 0),
       count(DISTINCT e.partition) FILTER (WHERE e.dagster_event_type = 'ASSET_MATERIALIZATION')
FROM runs r LEFT JOIN event_logs e ON e.run_id = r.run_id
GROUP BY r.run_id, r.pipeline_name
"""


@dataclass(frozen=True)
class RunCost:
    job: str
    event_rows: int
    event_bytes: int
    batches: int


def run_costs(storage_url: str) -> list[RunCost]:
    """The event-log cost of every run stored now."""
    with psycopg2.connect(storage_url) as conn, conn.cursor() as cur:
        cur.execute(_RUN_COSTS)
        costs = [
            RunCost(job, int(rows), int(size), int(batches)) for job, rows, size, batches in cur.fetchall()
        ]
    conn.close()
    return costs


def _fit(points: list[tuple[int, int]]) -> tuple[float, float]:
    """Least squares `bytes = fixed + per_batch * batches`; only a per-batch cost when all runs are alike."""
    xs = [x for x, _ in points]
    if len(set(xs)) < 2:
        return 0.0, statistics.mean(y for _, y in points) / max(1, xs[0])
    slope, intercept = statistics.linear_regression(xs, [y for _, y in points])
    return intercept, slope


@dataclass(frozen=True)
class YearlyProjection:
    """Bytes of the Dagster database for a year at the default cadence, with and without housekeeping."""

    load_run_fixed_kb: float
    load_run_per_batch_kb: float
    other_run_kb: float
    event_rows_per_minute: float
    db_bytes_per_event_byte_growing: float
    db_bytes_per_event_byte_steady: float
    without_housekeeping_gb_a_year: float
    runs_a_year: float
    with_housekeeping_runs_kept: float
    with_housekeeping_gb: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def project_year(
    first_costs: list[RunCost],
    first_growth_bytes: int,
    end_costs: list[RunCost],
    end_bytes_above_empty: int,
    run_days: float = 30,
    partition_days: float = 60,
) -> YearlyProjection | None:
    """`first_costs`: the runs at the end of the first interval (nothing deleted yet) and what the database
    grew by then; `end_costs`: the runs stored at the end and the database's size above an empty instance."""
    loads = [(c.batches, c.event_bytes) for c in first_costs if c.job == LOAD_JOB and c.batches]
    others = [c for c in first_costs if c.job != LOAD_JOB]
    first_event_bytes = sum(c.event_bytes for c in first_costs)
    end_event_bytes = sum(c.event_bytes for c in end_costs)
    if not loads or not others or not first_event_bytes or not end_event_bytes:
        return None
    fixed, per_batch = _fit(loads)
    other = statistics.mean(c.event_bytes for c in others)
    load_rows = statistics.mean(
        c.event_rows / c.batches for c in first_costs if c.job == LOAD_JOB and c.batches
    )
    other_rows = statistics.mean(c.event_rows for c in others)
    other_runs_a_minute = DEFAULT_RUNS_PER_MINUTE - 1
    minute_event_bytes = fixed + per_batch + other_runs_a_minute * other
    growing = first_growth_bytes / first_event_bytes
    steady = end_bytes_above_empty / end_event_bytes
    minutes_kept = run_days * 1440
    # Load runs of the days between the run and the partition retention hold a registered partition's latest
    # materialisation and are kept.
    kept_event_bytes = minutes_kept * minute_event_bytes + (partition_days - run_days) * 1440 * (
        fixed + per_batch
    )
    return YearlyProjection(
        load_run_fixed_kb=fixed / 1000,
        load_run_per_batch_kb=per_batch / 1000,
        other_run_kb=other / 1000,
        event_rows_per_minute=load_rows + other_runs_a_minute * other_rows,
        db_bytes_per_event_byte_growing=growing,
        db_bytes_per_event_byte_steady=steady,
        without_housekeeping_gb_a_year=minute_event_bytes * MINUTES_A_YEAR * growing / 1e9,
        runs_a_year=DEFAULT_RUNS_PER_MINUTE * MINUTES_A_YEAR,
        with_housekeeping_runs_kept=DEFAULT_RUNS_PER_MINUTE * minutes_kept
        + (partition_days - run_days) * 1440,
        with_housekeeping_gb=kept_event_bytes * steady / 1e9,
    )
