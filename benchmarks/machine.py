"""Machine facts written with every result: hardware, software versions, the commit, the server's settings.

Benchmark numbers mean little without what produced them; these are what a reader needs to compare two result
files (and to notice that a working tree shared with others was measured with someone's uncommitted change).
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from benchmarks.support import BenchServer
from etl_project.paths import PROJECT_ROOT


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _git_commit() -> str | None:
    """HEAD, marked `-dirty` when the working tree differs (read-only: takes no index lock)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "--no-optional-locks", "diff", "--quiet", "HEAD", "--"], cwd=PROJECT_ROOT
        )
        return head.stdout.strip() + ("-dirty" if dirty.returncode else "")
    except OSError:
        return None


def _uncommitted_changes() -> list[str]:
    """Files of the measured code (etl_project/, etl_db/) that differ from HEAD, untracked ones included.

    A working tree shared with people editing it is measured as it is; this says what that was.
    """
    status = subprocess.run(
        ["git", "--no-optional-locks", "status", "--porcelain", "--", "etl_project", "etl_db"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    return status.stdout.splitlines() if status.returncode == 0 else []


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


#: Server settings that explain the numbers (memory, WAL, durability, parallelism).
SHOWN_SETTINGS = (
    "shared_buffers",
    "work_mem",
    "maintenance_work_mem",
    "max_wal_size",
    "min_wal_size",
    "synchronous_commit",
    "fsync",
    "wal_level",
    "max_parallel_workers_per_gather",
    "io_method",
)


def server_info(server: BenchServer) -> dict[str, object]:
    """Which PostgreSQL, where, and its settings that matter here."""
    return {
        "postgresql": server.version(),
        "postgresql_server": server.description,
        "postgresql_settings": server.settings(SHOWN_SETTINGS),
    }


def machine_info(server: BenchServer) -> dict[str, object]:
    """What a reader needs to compare two result files: hardware, software versions, server settings."""
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": _memory_gb(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average_1_5_15m": [round(x, 2) for x in os.getloadavg()],
        **server_info(server),
        "packages": {
            p: _version(p) for p in ("dagster", "dagster-postgres", "pandas", "SQLAlchemy", "psycopg2-binary")
        },
        "git_commit": _git_commit(),
        "uncommitted_changes": _uncommitted_changes(),
    }
