"""The large batch's tables: methods compared, the same load on each PostgreSQL major, and the platform's profile.

Kept apart from the scenario (large_file.py) since what to print is a reader's question, what to measure is not.
"""

from __future__ import annotations

from benchmarks.large_file import LargeFileResult, MethodResult
from benchmarks.report import format_table

#: Statements below this share of the load are summed into one line of the profile.
PROFILE_MIN_SHARE = 0.005


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
