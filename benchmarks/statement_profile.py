"""Profiling `load_batch` without touching it: a connection whose cursors time every statement.

Wall time, this process' CPU, the server backend's CPU and the WAL written, per statement, each named by its
shape (verb, table, event type) rather than by the loader's functions, so that the profile survives the
loader's changes. Used by the platform worker (workers.py).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions
from psycopg2 import sql


@dataclass
class StatementTiming:
    """One statement of the load: where its time went."""

    step: str
    seconds: float
    client_cpu_s: float
    backend_cpu_s: float | None
    wal_mb: float | None
    rows: int


class ServerProbe:
    """Reads the server backend's CPU time (/proc, when the server runs on this machine) and the WAL position.

    The WAL position is read over a second connection, so it includes other sessions' writes; during a
    benchmark there are none but autovacuum's.
    """

    def __init__(self, url: str, backend_pid: int):
        self._monitor = psycopg2.connect(url, application_name="etl_bench_probe")
        self._monitor.autocommit = True
        proc = Path(f"/proc/{backend_pid}")
        try:  # the backend is ours only if the server runs on this machine
            local = b"postgres" in (proc / "cmdline").read_bytes()
        except OSError:
            local = False
        self._stat = proc / "stat" if local else None
        self._ticks = os.sysconf("SC_CLK_TCK")

    def backend_cpu_s(self) -> float | None:
        if self._stat is None:
            return None
        fields = self._stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self._ticks  # utime + stime

    def wal_bytes(self) -> int:
        with self._monitor.cursor() as cur:
            cur.execute("SELECT pg_current_wal_insert_lsn()::text")
            high, low = cur.fetchone()[0].split("/")
        return (int(high, 16) << 32) + int(low, 16)

    def close(self) -> None:
        self._monitor.close()


class ProfilingConnection(psycopg2.extensions.connection):
    """A psycopg2 connection whose cursors record a `StatementTiming` per execute/COPY."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.timings: list[StatementTiming] = []
        self.probe: ServerProbe | None = None

    def start_profile(self, url: str) -> None:
        with self.cursor() as cur:  # no probe yet, so not part of the profile
            cur.execute("SELECT pg_backend_pid()")
            backend_pid = cur.fetchone()[0]
        self.rollback()
        self.probe = ServerProbe(url, backend_pid)

    @contextmanager
    def timed(self, statement: str | sql.Composable, cursor: psycopg2.extensions.cursor) -> Iterator[None]:
        if self.probe is None:
            yield
            return
        text = statement.as_string(self) if isinstance(statement, sql.Composable) else statement
        backend_before, wal_before = self.probe.backend_cpu_s(), self.probe.wal_bytes()
        cpu_before, start = time.process_time(), time.perf_counter()
        yield
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_before
        backend_after, wal_after = self.probe.backend_cpu_s(), self.probe.wal_bytes()
        self.timings.append(
            StatementTiming(
                step=label_statement(text),
                seconds=seconds,
                client_cpu_s=cpu,
                backend_cpu_s=(
                    None
                    if backend_before is None or backend_after is None
                    else backend_after - backend_before
                ),
                wal_mb=(wal_after - wal_before) / 1024 / 1024,
                rows=cursor.rowcount,
            )
        )


class ProfilingCursor(psycopg2.extensions.cursor):
    """Times `execute` and `copy_expert`, the two calls `load_batch` makes."""

    def execute(self, query: Any, vars: Any = None) -> None:  # noqa: A002 - psycopg2's own name
        with self.connection.timed(query, self):
            super().execute(query, vars)

    def copy_expert(self, sql: Any, file: Any, size: int = 8192) -> None:
        with self.connection.timed(sql, self):
            super().copy_expert(sql, file, size)


_STATEMENT_SHAPES = (
    (
        re.compile(r"^CREATE TEMP(?:ORARY)? TABLE (\S+)(?: ON COMMIT \w+)? AS\b"),
        "CREATE TEMP TABLE {} AS SELECT",
    ),
    (re.compile(r"^CREATE TEMP(?:ORARY)? TABLE (\S+)"), "CREATE TEMP TABLE {}"),
    (re.compile(r"^COPY (\S+)"), "COPY {} FROM STDIN"),
    (re.compile(r"^INSERT INTO (\S+)"), "INSERT INTO {}"),
    (re.compile(r"^UPDATE (\S+)"), "UPDATE {}"),
    (re.compile(r"^DELETE FROM (\S+)"), "DELETE FROM {}"),
    (re.compile(r"^SELECT .*? FROM (\S+)"), "SELECT ... FROM {}"),
)


def label_statement(text: str) -> str:
    """A short name for a statement from its shape (verb, table, event type).

    Derived from the SQL text rather than from the loader's function names, so that the profile keeps
    working while the loader's code changes.
    """
    flat = " ".join(text.split()).replace('"', "")
    label = flat[:60]
    for pattern, template in _STATEMENT_SHAPES:
        match = pattern.match(flat)
        if match:
            label = template.format(match.group(1))
            break
    event_types = sorted(set(re.findall(r"'(\w+_event)'", flat)))
    return f"{label} [{event_types[0]}]" if len(event_types) == 1 else label
