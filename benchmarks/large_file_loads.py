"""The large batch, generated once, and one load of it by `psql \\copy` or by a worker, each into a fresh database.

Each load starts from nothing (a fresh migrated database, a checkpoint) and is checked for every row afterwards:
a method that rejects or drops rows would be measured doing less work. The scenario (large_file.py) decides how
often and in which order these loads run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import psycopg2
from psycopg2 import sql

from benchmarks.measured_process import python_module, run_measured
from benchmarks.support import (
    BENCH_DIR,
    BenchmarkError,
    BenchServer,
    libpq_environment,
    log,
    psql_binary,
)
from benchmarks.workers import WORKER_URL_ENV

BATCH_ID = "bench_large"
BASELINE_TABLE = "bench_raw"


def generate_large_batch(events: int, *, regenerate: bool) -> tuple[Path, float | None]:
    """The input file, made by the project's own generator (`etl generate --events N`, 80% sales).

    Files are kept under .bench/inputs/ per size and reused (same seed, same content but for the creation
    time), since generating a million events costs about as much as loading them.
    """
    directory = BENCH_DIR / "inputs" / f"large-{events}"
    path = directory / f"{BATCH_ID}.csv"
    if path.is_file() and not regenerate:
        log(f"large: reusing {path.relative_to(BENCH_DIR.parent)} (--regenerate to make it again)")
        return path, None
    log(f"large: generating {events:,} events into {directory.relative_to(BENCH_DIR.parent)}")
    command = python_module(
        "etl_project.cli", "generate", "--events", str(events), "--out", str(directory),
        "--batch-id", BATCH_ID, "--seed", "1", "--no-database",
    )  # fmt: skip
    measured = run_measured(command)
    return path, measured.wall_s


def _count(url: str, table: str) -> int:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - a constant of this module
            return cur.fetchone()[0]
    finally:
        conn.close()


def measure_psql_copy(server: BenchServer, path: Path, events: int) -> dict[str, object]:
    r"""The floor: `psql \copy` of the file into the legacy pipeline's etl.raw_events, as its first step did.

    That table is the issue's baseline: `raw_id` numbered by an identity primary key, the four columns of the
    file, payload as jsonb. (The platform's own raw_events also needs file_row, which `\copy` cannot provide.)
    """
    server.drop_created()
    url = server.fresh_database("etl_bench_psql")
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute(
            f"CREATE TABLE {BASELINE_TABLE} (raw_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
            "batch_id text, event_type text, payload jsonb, batch_created_at timestamp)"
        )
    conn.close()
    literal_path = "'" + str(path.resolve()).replace("'", "''") + "'"
    copy = (
        rf"\copy {BASELINE_TABLE} (batch_id, event_type, payload, batch_created_at) FROM {literal_path} "
        r"WITH (FORMAT csv, HEADER true, ESCAPE '\')"
    )
    server.checkpoint()
    wal_start = server.wal_bytes()
    measured = run_measured(
        [str(psql_binary(server)), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", copy],
        env=libpq_environment(url),
    )
    wal_mb = (server.wal_bytes() - wal_start) / 2**20
    rows = _count(url, BASELINE_TABLE)
    if rows != events:
        raise BenchmarkError(f"psql \\copy loaded {rows} rows, expected {events}")
    return {
        "seconds": measured.wall_s,
        "process_wall_s": measured.wall_s,
        "peak_rss_mb": measured.peak_rss_mb,
        "rss_before_work_mb": None,
        "rows_read": rows,
        "rows_loaded": rows,
        "rows_rejected": 0,
        "wal_mb": wal_mb,
    }


def measure_worker(
    server: BenchServer,
    method: str,
    path: Path,
    events: int,
    *,
    explain_to: Path | None = None,
    other_orders: int = 0,
    worker_module: str = "benchmarks.workers",
    migrate: bool = True,
    timeout_s: float | None = None,
    worker_args: Sequence[str] = (),
) -> dict[str, object]:
    """Run `<worker_module> <method>` into a fresh database, migrated unless told not to (holding `other_orders`
    orders of other batches, with stores and products in proportion, when asked); check every row is
    accounted for. A worker still running after `timeout_s` is killed (BenchmarkError)."""
    server.drop_created()
    url = server.fresh_database(f"etl_bench_{method}" + ("_explain" if explain_to else ""), migrate=migrate)
    if other_orders:
        _load_other_batches(url, other_orders)
    server.checkpoint()
    extra = [*(["--explain-to", str(explain_to)] if explain_to else []), *worker_args]
    wal_start = server.wal_bytes()
    measured = run_measured(
        python_module(worker_module, method, "--file", str(path), "--batch-id", BATCH_ID, *extra),
        env={**os.environ, WORKER_URL_ENV: url},
        sample_rss=False,
        timeout_s=timeout_s,
    )
    wal_mb = (server.wal_bytes() - wal_start) / 2**20
    result = json.loads(measured.stdout)
    # Generated data is valid: a method that rejects or drops rows would be measured doing less work.
    if (result["rows_read"], result["rows_loaded"], result["rows_rejected"]) != (events, events, 0):
        raise BenchmarkError(
            f"{method} read {result['rows_read']}, loaded {result['rows_loaded']} and rejected "
            f"{result['rows_rejected']} of {events} generated rows {result.get('rejected_by_reason') or ''}"
        )
    peak = result.pop("vm_hwm_mb")
    return {**result, "process_wall_s": measured.wall_s, "peak_rss_mb": peak, "wal_mb": wal_mb}


def _load_other_batches(url: str, orders: int) -> None:
    """Entities of earlier batches, as months of loads leave them: ids far from the generated file's, so the
    load looks them up (primary key probes) without finding any."""
    log(f"large: loading {orders:,} orders of other batches first (untimed)")
    conn = psycopg2.connect(url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            for table, rows, columns, values in (
                ("orders", orders, "created_at, user_id", "now(), 1"),
                ("stores", orders // 50, "created_at, name, tax_id, status", "now(), 'store', 1, 'active'"),
                ("products", orders // 25, "created_at, name, price", "now(), 'product', 1"),
            ):
                cur.execute(
                    sql.SQL(
                        "INSERT INTO etl.{} (raw_id, batch_id, batch_created_at, id, {}) "
                        "SELECT g, 'earlier_' || (g / 1000), now(), 1000000000 + g, {} "
                        "FROM generate_series(1, %s) g"
                    ).format(sql.Identifier(table), sql.SQL(columns), sql.SQL(values)),
                    (rows,),
                )
                cur.execute(sql.SQL("VACUUM ANALYZE etl.{}").format(sql.Identifier(table)))
    finally:
        conn.close()
