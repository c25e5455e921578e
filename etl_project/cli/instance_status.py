"""The Dagster instance's part of `etl status`: how many runs it stores and how large its database is, the two
numbers that grow with time unless dagster_housekeeping_job deletes old runs."""

import os
from pathlib import Path

import psycopg2

from etl_project.paths import LOCAL_DAGSTER_HOME
from etl_project.store.rows import one_row


def instance_lines(storage_url: str) -> list[str]:
    """Runs stored, database size and compute-log folder size of the instance `etl dev` runs."""
    url = storage_url.replace("postgresql+psycopg2://", "postgresql://", 1)
    try:
        conn = psycopg2.connect(url, connect_timeout=5)
    except psycopg2.Error as err:
        return [f"Dagster instance: cannot connect to its storage ({str(err).strip().splitlines()[0]})"]
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_database_size(current_database()), to_regclass('runs') IS NOT NULL")
            size, has_runs = one_row(cur)
            runs = None
            if has_runs:  # Dagster's own table, read-only: a count is all `etl status` needs
                cur.execute("SELECT count(*), count(*) FILTER (WHERE status = 'FAILURE') FROM runs")
                runs = one_row(cur)
    finally:
        conn.close()
    lines = ["Dagster instance:", f"  database size      {size / 1e6:,.1f} MB"]
    if runs is not None:
        lines.append(f"  runs stored        {runs[0]:,} ({runs[1]:,} failed)")
    logs = Path(os.getenv("DAGSTER_HOME") or LOCAL_DAGSTER_HOME) / "storage"
    if logs.is_dir():
        folders = sum(1 for _ in logs.iterdir())
        lines.append(f"  compute-log folders {folders:,} (one per run, in {logs})")
    lines.append("  (dagster_housekeeping_job deletes runs past ETL_RUN_RETENTION_DAYS every hour)")
    return lines
