"""Scenario `large`: one big generated batch loaded three ways, each into a fresh database of the same server.

Why these three: `psql \\copy` is the physical floor of CSV into PostgreSQL (no validation, no typing), pandas
`to_sql` is what most pipelines do, and `load_batch` is the platform's own path with validation, rejection
reasons and five tables in one transaction. The platform promises to stay within 2x of the floor, to be at
least 5x faster than pandas, and to load in bounded memory.

With other servers (--postgres-bin: other PostgreSQL majors), `psql \\copy` and the platform also load the file on
each of them, in the same rounds; the platform must stay within 2x of `psql \\copy` on each, and within 15% of
its own time on the main server.
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg2
from psycopg2 import sql

from benchmarks.support import (
    BENCH_DIR,
    BenchmarkError,
    BenchServer,
    Target,
    format_table,
    libpq_environment,
    log,
    psql_binary,
    python_module,
    run_measured,
)
from benchmarks.workers import WORKER_URL_ENV

BATCH_ID = "bench_large"
BASELINE_TABLE = "bench_raw"
#: The platform's targets for the large file.
MAX_RATIO_TO_PSQL = 2.0
MIN_SPEEDUP_VS_PANDAS = 5.0
MAX_PLATFORM_RSS_MB = 300.0
#: The platform's load on another major (PostgreSQL 15) against its load on the main server (the embedded 18).
MAX_RATIO_TO_MAIN_SERVER = 1.15
#: The methods also measured on the other servers.
OTHER_SERVER_METHODS = ("psql_copy", "platform")
#: Statements below this share of the load are summed into one line of the profile.
PROFILE_MIN_SHARE = 0.005


@dataclass
class MethodResult:
    """One method's measurements: medians over the repeats for time, the maximum for memory."""

    method: str
    description: str
    wall_s: float
    process_wall_s: float
    peak_rss_mb: float | None
    rss_before_work_mb: float | None
    wal_mb: float
    rows_read: int
    rows_loaded: int | None = None
    rows_rejected: int | None = None
    repeats: list[dict[str, object]] = field(default_factory=list)
    profile: list[dict[str, object]] = field(default_factory=list)


@dataclass
class ServerLoads:
    """`psql \\copy` and the platform on one server (one PostgreSQL major)."""

    server: str
    version: str
    major: int
    psql_copy: MethodResult | None
    platform: MethodResult | None


@dataclass
class LargeFileResult:
    events: int
    file: str
    file_mb: float
    generation_s: float | None
    methods: list[MethodResult]
    targets: list[Target]
    plans_file: str | None = None
    #: Methods that failed, with the reason (a load that lost or rejected rows, a crash).
    errors: dict[str, str] = field(default_factory=dict)
    #: The main server first, then each other server (when there are any).
    servers: list[ServerLoads] = field(default_factory=list)

    def method(self, name: str) -> MethodResult | None:
        return next((m for m in self.methods if m.method == name), None)

    def as_dict(self) -> dict[str, object]:
        return {
            "events": self.events,
            "file": self.file,
            "file_mb": self.file_mb,
            "generation_s": self.generation_s,
            "methods": [asdict(m) for m in self.methods],
            "targets": [t.as_dict() for t in self.targets],
            "plans_file": self.plans_file,
            "errors": self.errors,
            "servers": [asdict(s) for s in self.servers],
        }


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
        "--batch-id", BATCH_ID, "--seed", "1",
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
) -> dict[str, object]:
    """Run `benchmarks.workers <method>` into a fresh migrated database (holding `other_orders` orders of other
    batches, with stores and products in proportion, when asked); check every row is accounted for."""
    server.drop_created()
    url = server.fresh_database(f"etl_bench_{method}" + ("_explain" if explain_to else ""))
    if other_orders:
        _load_other_batches(url, other_orders)
    server.checkpoint()
    extra = ["--explain-to", str(explain_to)] if explain_to else []
    wal_start = server.wal_bytes()
    measured = run_measured(
        python_module("benchmarks.workers", method, "--file", str(path), "--batch-id", BATCH_ID, *extra),
        env={**os.environ, WORKER_URL_ENV: url},
        sample_rss=False,
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


_DESCRIPTIONS = {
    "psql_copy": r"psql \copy into the legacy etl.raw_events (identity PK + 4 columns, no validation)",
    "pandas": "pandas read_csv + json.loads + DataFrame.to_sql (simplified validation)",
    "platform": "etl_project load_batch (validated, 5 tables, 1 transaction, writer + validator connections)",
}


def _measure_once(server: BenchServer, method: str, path: Path, events: int, label: str) -> dict[str, object]:
    log(f"large: {method}{'' if server.local is None else f' on {server.local.bin_dir}'} ({label})")
    run = (
        measure_psql_copy(server, path, events)
        if method == "psql_copy"
        else measure_worker(server, method, path, events)
    )
    log(f"large: {method} took {run['seconds']:.1f} s, peak RSS {run['peak_rss_mb'] or 0:.0f} MB")
    return run


def _summary(method: str, runs: list[dict[str, object]], description: str | None = None) -> MethodResult:
    median_run = sorted(runs, key=lambda r: r["seconds"])[(len(runs) - 1) // 2]
    return MethodResult(
        method=method,
        description=description or _DESCRIPTIONS[method],
        wall_s=statistics.median(r["seconds"] for r in runs),
        process_wall_s=statistics.median(r["process_wall_s"] for r in runs),
        peak_rss_mb=max((r["peak_rss_mb"] for r in runs if r["peak_rss_mb"] is not None), default=None),
        rss_before_work_mb=median_run.get("rss_before_work_mb"),
        wal_mb=median_run["wal_mb"],
        rows_read=median_run["rows_read"],
        rows_loaded=median_run.get("rows_loaded"),
        rows_rejected=median_run.get("rows_rejected"),
        repeats=[{k: v for k, v in r.items() if k != "profile"} for r in runs],
        profile=median_run.get("profile", []),
    )


def run_large_file_scenario(
    server: BenchServer,
    *,
    events: int,
    repeat: int,
    pandas_repeat: int = 1,
    regenerate: bool,
    methods: list[str],
    explain_to: Path | None = None,
    other_orders: int = 0,
    other_servers: Sequence[BenchServer] = (),
) -> LargeFileResult:
    """Generate (or reuse) the file, then load it with each method, in rounds (psql first in each round).

    With `other_servers`, each round also loads it with `psql \\copy` and the platform on each of them. With
    `other_orders`, the platform also loads it once into a database already holding that many orders of
    other batches (months of loads), reported as `platform_populated`. With `explain_to`, one more (untimed)
    platform load writes the plans of its slow statements there.
    """
    path, generation_s = generate_large_batch(events, regenerate=regenerate)
    servers = [server, *other_servers]
    names = [_server_name(s) for s in servers]
    # (server index, method): runs wanted; the key of a failure in `errors` is the method's, or for another
    # server "<method> on <server>".
    wanted = {
        (i, method): pandas_repeat if method == "pandas" else repeat
        for i in range(len(servers))
        for method in methods
        if i == 0 or method in OTHER_SERVER_METHODS
    }
    error_key = {(i, m): m if i == 0 else f"{m} on {names[i]}" for i, m in wanted}
    runs: dict[tuple[int, str], list[dict[str, object]]] = {key: [] for key in wanted}
    errors: dict[str, str] = {}
    # Rounds of one run per method and server, so that whatever drifts during the benchmark (caches, WAL
    # files, the kernel's writeback) spreads over every method instead of favouring the one measured last;
    # the servers take turns at going first.
    for attempt in range(1, max(wanted.values(), default=0) + 1):
        order = sorted(wanted, key=lambda key: key[0] if attempt % 2 else -key[0])
        for i, method in order:
            times = wanted[i, method]
            if error_key[i, method] in errors or attempt > times:
                continue
            for other in servers:  # no autovacuum nor writeback of another server's last load during this one
                other.drop_created()
                other.checkpoint()
            try:
                runs[i, method].append(_measure_once(servers[i], method, path, events, f"{attempt}/{times}"))
            except BenchmarkError as err:  # the other methods still give their numbers
                log(f"large: {error_key[i, method]} FAILED")
                errors[error_key[i, method]] = str(err)
    for other in other_servers:
        other.drop_created()
    results = [_summary(method, runs[0, method]) for method in methods if method not in errors]
    server_loads = [
        ServerLoads(
            server=names[i],
            version=servers[i].version(),
            major=servers[i].major(),
            **{
                m: _summary(m, runs[i, m]) if runs.get((i, m)) and error_key[i, m] not in errors else None
                for m in OTHER_SERVER_METHODS
            },
        )
        for i in range(len(servers))
        if other_servers
    ]
    if other_orders and "platform" in methods:
        try:
            run = measure_worker(server, "platform", path, events, other_orders=other_orders)
            log(f"large: platform into the populated database took {run['seconds']:.1f} s")
            description = (
                f"the same load into a database already holding {other_orders:,} orders, "
                f"{other_orders // 50:,} stores and {other_orders // 25:,} products of other batches"
            )
            results.append(_summary("platform_populated", [run], description))
        except BenchmarkError as err:
            log("large: platform into the populated database FAILED")
            errors["platform_populated"] = str(err)
    plans_file = None
    if explain_to is not None:
        log(f"large: platform again with auto_explain (untimed), plans to {explain_to}")
        try:
            measure_worker(server, "platform", path, events, explain_to=explain_to)
            plans_file = str(explain_to.relative_to(BENCH_DIR.parent))
        except BenchmarkError as err:  # the plans are an aid; the measurements above stand without them
            log(f"large: the auto_explain load failed, no plans: {err}")
    by_name = {r.method: r for r in results}
    platform, psql, pandas = by_name.get("platform"), by_name.get("psql_copy"), by_name.get("pandas")
    targets = [
        Target(
            "platform time / psql \\copy time",
            platform.wall_s / psql.wall_s if platform and psql else None,
            MAX_RATIO_TO_PSQL,
            "<=",
            "x",
        ),
        *_other_server_targets(server_loads),
        Target(
            "platform speedup vs pandas",
            pandas.wall_s / platform.wall_s if platform and pandas else None,
            MIN_SPEEDUP_VS_PANDAS,
            ">=",
            "x",
        ),
        Target(
            "platform load peak RSS",
            platform.peak_rss_mb if platform else None,
            MAX_PLATFORM_RSS_MB,
            "<",
            " MB",
        ),
    ]
    return LargeFileResult(
        events=events,
        file=str(path.relative_to(BENCH_DIR.parent)),
        file_mb=round(path.stat().st_size / 1024 / 1024, 1),
        generation_s=generation_s,
        methods=results,
        targets=targets,
        plans_file=plans_file,
        errors=errors,
        servers=server_loads,
    )


def _server_name(server: BenchServer) -> str:
    major = server.major()
    if server.local is not None:
        return f"PostgreSQL {major} ({server.local.bin_dir})"
    return f"PostgreSQL {major} ({'embedded' if server.embedded_dir else 'ETL_DATABASE_URL'})"


def _other_server_targets(loads: list[ServerLoads]) -> list[Target]:
    """For each other server: the platform within 2x of `psql \\copy` there, and within 15% of its own time on
    the main server (the first)."""
    if not loads:
        return []
    main = loads[0].platform
    targets = []
    for other in loads[1:]:
        psql, platform = other.psql_copy, other.platform
        targets += [
            Target(
                f"platform time / psql \\copy time on PostgreSQL {other.major}",
                platform.wall_s / psql.wall_s if platform and psql else None,
                MAX_RATIO_TO_PSQL,
                "<=",
                "x",
            ),
            Target(
                f"platform time on PostgreSQL {other.major} / on PostgreSQL {loads[0].major}",
                platform.wall_s / main.wall_s if platform and main else None,
                MAX_RATIO_TO_MAIN_SERVER,
                "<=",
                "x",
            ),
        ]
    return targets


def render_large_file(result: LargeFileResult) -> str:
    """The comparison table, then where the platform's load spent its time."""
    psql, pandas = result.method("psql_copy"), result.method("pandas")
    rows = []
    for m in result.methods:
        ratio = f"{m.wall_s / psql.wall_s:.2f}x" if psql else "-"
        speedup = f"{pandas.wall_s / m.wall_s:.1f}x" if pandas else "-"
        rows.append(
            [
                m.method,
                f"{m.wall_s:.2f}",
                f"{result.events / m.wall_s:,.0f}",
                ratio,
                speedup,
                "-" if m.peak_rss_mb is None else f"{m.peak_rss_mb:.0f}",
                f"{m.rss_before_work_mb:.0f}" if m.rss_before_work_mb else "-",
                f"{m.wal_mb:.0f}",
                m.description,
            ]
        )
    generated = f", generated in {result.generation_s:.1f} s" if result.generation_s else " (reused)"
    parts = [
        f"Large batch: {result.events:,} events, {result.file_mb} MB ({result.file}{generated})",
        format_table(
            [
                "method",
                "wall s",
                "rows/s",
                "vs psql",
                "vs pandas",
                "peak RSS MB",
                "RSS before work MB",
                "WAL MB",
                "what",
            ],
            rows,
        ),
        "wall s: connect to commit, measured inside the worker (psql: the whole psql process); "
        "peak RSS: that process' own high-water mark (VmHWM); WAL: written by the server during the load.",
    ]
    if result.servers:
        parts += ["", render_servers(result)]
    platform = result.method("platform")
    if platform and platform.profile:
        parts += ["", render_profile(platform, psql)]
    if result.plans_file:
        parts.append(
            f"Plans of its statements over 100 ms (EXPLAIN ANALYZE via auto_explain): {result.plans_file}"
        )
    return "\n".join(parts)


def render_servers(result: LargeFileResult) -> str:
    """The same file loaded on each PostgreSQL major: each against `psql \\copy` there, and against the first."""
    main = result.servers[0].platform
    rows = []
    for s in result.servers:
        psql, platform = s.psql_copy, s.platform
        rows.append(
            [
                s.server,
                s.version.split()[1],  # "PostgreSQL 15.18 (Debian ...) on x86_64-pc-linux-gnu, ..."
                f"{psql.wall_s:.2f}" if psql else "-",
                f"{platform.wall_s:.2f}" if platform else "-",
                f"{platform.wall_s / psql.wall_s:.2f}x" if platform and psql else "-",
                f"{platform.wall_s / main.wall_s:.2f}x" if platform and main else "-",
            ]
        )
    return "\n".join(
        [
            f"The same batch on each PostgreSQL major (in the same rounds; each server started alike, "
            f"median of {len(main.repeats) if main else '-'} runs):",
            format_table(
                [
                    "server",
                    "version",
                    "psql \\copy s",
                    "platform s",
                    "platform / psql",
                    f"vs {result.servers[0].major}",
                ],
                rows,
            ),
        ]
    )


def render_profile(platform: MethodResult, psql: MethodResult | None) -> str:
    """Time per statement of `load_batch`, in execution order; small ones summed."""
    total = platform.wall_s
    rows, small_s, small_n = [], 0.0, 0
    for t in platform.profile:
        if t["seconds"] < PROFILE_MIN_SHARE * total:
            small_s += t["seconds"]
            small_n += 1
            continue
        rows.append(
            [
                t["step"],
                f"{t['seconds']:.2f}",
                f"{100 * t['seconds'] / total:.1f}%",
                f"{t['rows']:,}" if t["rows"] >= 0 else "",
                f"{t['client_cpu_s']:.2f}",
                "" if t["backend_cpu_s"] is None else f"{t['backend_cpu_s']:.2f}",
                "" if t["wal_mb"] is None else f"{t['wal_mb']:.0f}",
            ]
        )
    residual = total - sum(t["seconds"] for t in platform.profile)
    rows.append(
        [f"{small_n} other statements", f"{small_s:.2f}", f"{100 * small_s / total:.1f}%", "", "", "", ""]
    )
    rows.append(
        [
            "connect + commit + waiting for the validator",
            f"{residual:.2f}",
            f"{100 * residual / total:.1f}%",
        ]
        + [""] * 4
    )
    lines = [
        f"Where load_batch spends its {total:.1f} s, seen from the writing connection (one statement per line; "
        "the validating connection works at the same time and shows here as waiting; client CPU = this Python "
        "process, both threads; backend CPU = the writer's server process):",
        format_table(["step", "s", "share", "rows", "client CPU s", "backend CPU s", "WAL MB"], rows),
    ]
    staging = sum(t["seconds"] for t in platform.profile if t["step"].startswith("COPY etl_staging."))
    if staging and psql:
        lines.append(
            f"Staging (the writer's half of the file, the other half on the validator at the same time) takes "
            f"{staging / psql.wall_s:.2f}x psql \\copy of the whole file; everything after it "
            f"{(total - staging) / psql.wall_s:.2f}x."
        )
    return "\n".join(lines)
