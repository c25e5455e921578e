"""The Dagster instance's own PostgreSQL database: its size, and VACUUM after housekeeping deleted rows.

A deleted row's space is reusable only once VACUUM has passed; running it right after a pass keeps the tables
at their steady-state size instead of waiting for autovacuum's thresholds (20% of a table by default, which on
a large event_logs table is millions of rows). Plain VACUUM takes no lock that blocks readers or writers; VACUUM
FULL (which returns space to the OS but locks the table) is never run.
"""

import time
from dataclasses import dataclass

import dagster as dg
import psycopg2
from psycopg2 import sql

from etl_project.store.rows import one_row

#: The tables housekeeping deletes from (dagster 1.13 schema).
HOUSEKEEPING_TABLES = ("event_logs", "asset_event_tags", "asset_check_executions", "runs", "run_tags")


@dataclass(frozen=True)
class VacuumOutcome:
    done: bool
    seconds: float
    note: str


def storage_url(instance: dg.DagsterInstance) -> str | None:
    """libpq URL of the instance's run storage when it is PostgreSQL (dagster-postgres), else None."""
    url = getattr(instance.run_storage, "postgres_url", None)
    return url.replace("postgresql+psycopg2://", "postgresql://", 1) if url else None


def database_size_bytes(instance: dg.DagsterInstance) -> int | None:
    url = storage_url(instance)
    if url is None:
        return None
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_database_size(current_database())")
        size = int(one_row(cur)[0])
    conn.close()
    return size


def vacuum_housekeeping_tables(instance: dg.DagsterInstance) -> VacuumOutcome:
    """VACUUM (ANALYZE) the tables housekeeping deletes from, so their free space is reused."""
    url = storage_url(instance)
    if url is None:
        return VacuumOutcome(False, 0.0, "not a PostgreSQL storage: skipped")
    started = time.monotonic()
    conn = psycopg2.connect(url)
    try:
        conn.autocommit = True  # VACUUM cannot run inside a transaction
        with conn.cursor() as cur:
            for table in HOUSEKEEPING_TABLES:
                cur.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)))
    except psycopg2.Error as err:  # e.g. a user that does not own the tables: autovacuum still runs
        return VacuumOutcome(False, time.monotonic() - started, f"failed: {err.pgerror or err}".strip())
    finally:
        conn.close()
    return VacuumOutcome(True, time.monotonic() - started, "vacuumed " + ", ".join(HOUSEKEEPING_TABLES))
