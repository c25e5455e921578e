"""Scenario `alternatives`: the large batch loaded the two ways a user would otherwise pick, against `psql \\copy`.

Why: "within 2x of `psql \\copy`" says what the platform costs; these rows say what the alternatives cost on
the same file, server and run. The legacy pipeline's own approach (COPY into raw_events, one INSERT ... SELECT
per event type) is what its users run today; dlt is the tool a team would reach for instead. Neither validates
like the platform (no rejection reasons, no reference checks beyond the legacy foreign keys), which only
flatters them. The loads themselves are in alternative_loads.py.

The ratios are to the `psql \\copy` of the `large` scenario of the same run (the number the platform's own
ratio uses), or, when that scenario did not run, to a `psql \\copy` measured here in the same rounds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from benchmarks.large_file import LargeFileResult, MethodResult, method_summary
from benchmarks.large_file_loads import generate_large_batch, measure_psql_copy, measure_worker
from benchmarks.report import Target, format_table
from benchmarks.support import BenchmarkError, BenchServer, log

WORKER_MODULE = "benchmarks.alternative_loads"
DESCRIPTIONS = {
    "legacy_sql": "legacy approach: COPY into etl.raw_events, then one INSERT ... SELECT per event type "
    "(serial keys, foreign keys, 4 sales indexes; one transaction)",
    "dlt": "dlt: csv rows + json.loads -> one table per event type, PostgreSQL destination, defaults",
}


@dataclass
class AlternativesResult:
    events: int
    file: str
    #: psql \copy, the platform (when the large scenario ran) and the alternatives, in that order.
    methods: list[MethodResult]
    psql_measured_here: bool
    dlt_timeout_s: float
    errors: dict[str, str] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def run_alternatives_scenario(
    server: BenchServer,
    *,
    events: int,
    repeat: int,
    dlt_timeout_s: float,
    large: LargeFileResult | None = None,
) -> AlternativesResult:
    """Load the large batch with the legacy approach (`repeat` times, in rounds with `psql \\copy` when the
    large scenario did not measure it) and once with dlt, killed after `dlt_timeout_s`."""
    path, _ = generate_large_batch(events, regenerate=False)
    reference = [m for m in (large.methods if large else []) if m.method in ("psql_copy", "platform")]
    measure_psql = not any(m.method == "psql_copy" for m in reference)
    runs: dict[str, list[dict[str, object]]] = {"psql_copy": [], "legacy_sql": [], "dlt": []}
    errors: dict[str, str] = {}
    for attempt in range(1, repeat + 1):
        for method in ("psql_copy", "legacy_sql", "dlt"):
            if method in errors or (method == "psql_copy" and not measure_psql):
                continue
            if method == "dlt" and attempt > 1:  # a minute or more per run: once, as pandas in `large`
                continue
            server.checkpoint()
            log(f"alternatives: {method} ({attempt}/{1 if method == 'dlt' else repeat})")
            try:
                if method == "psql_copy":
                    run = measure_psql_copy(server, path, events)
                else:
                    run = measure_worker(
                        server,
                        method,
                        path,
                        events,
                        worker_module=WORKER_MODULE,
                        migrate=False,  # the legacy tables, or dlt's own
                        timeout_s=dlt_timeout_s if method == "dlt" else None,
                    )
            except BenchmarkError as err:
                log(f"alternatives: {method} FAILED: {err}")
                errors[method] = str(err)
                continue
            log(f"alternatives: {method} took {run['seconds']:.1f} s")
            runs[method].append(run)
    server.drop_created()
    measured = [
        method_summary(method, method_runs, DESCRIPTIONS.get(method))
        for method, method_runs in runs.items()
        if method_runs
    ]
    return AlternativesResult(
        events=events,
        file=str(path.name),
        methods=[*reference, *measured] if not measure_psql else measured,
        psql_measured_here=measure_psql,
        dlt_timeout_s=dlt_timeout_s,
        errors=errors,
    )


def render_alternatives(result: AlternativesResult) -> str:
    """One row per method with its ratio to `psql \\copy`; a method that failed or timed out says so."""
    psql = next((m for m in result.methods if m.method == "psql_copy"), None)
    rows = [
        [
            m.method,
            f"{m.wall_s:.2f}",
            f"{result.events / m.wall_s:,.0f}",
            f"{m.wall_s / psql.wall_s:.2f}x" if psql else "-",
            "-" if m.peak_rss_mb is None else f"{m.peak_rss_mb:.0f}",
            f"{m.wal_mb:.0f}",
            f"{len(m.repeats)}",
            m.description + (f" [{m.repeats[0]['copy']}]" if m.repeats and "copy" in m.repeats[0] else ""),
        ]
        for m in result.methods
    ]
    rows += [
        [name, "-", "-", "-", "-", "-", "0", f"FAILED: {error.splitlines()[0]}"]
        for name, error in result.errors.items()
    ]
    source = (
        "psql \\copy measured here, in the same rounds"
        if result.psql_measured_here
        else "psql \\copy and platform: the large scenario's medians, same run"
    )
    return "\n".join(
        [
            f"The same {result.events:,}-event batch ({result.file}) by the alternatives a user would pick "
            f"({source}; dlt once, bounded at {result.dlt_timeout_s:g} s):",
            format_table(
                ["method", "wall s", "rows/s", "vs psql", "peak RSS MB", "WAL MB", "runs", "what"], rows
            ),
        ]
    )
