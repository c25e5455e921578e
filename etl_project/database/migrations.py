"""Applies the ordered SQL migrations of `etl_db/migrations/` exactly once per database.

Each file runs in its own transaction under an advisory lock, so that several processes starting at the same
moment (webserver, daemon, run workers) apply each migration once, and a failed migration leaves nothing.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import psycopg2.extensions

from etl_project.paths import MIGRATIONS_DIR

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
#: Arbitrary constant identifying "schema migrations" among the platform's advisory locks.
MIGRATION_LOCK_ID = 7_301_001


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    """Migration files in the order they apply; a misnamed file is an error, not something to skip."""
    files = sorted(p for p in directory.iterdir() if p.suffix == ".sql")
    for path in files:
        if not _MIGRATION_NAME.match(path.name):
            raise ValueError(f"migration {path.name} is not named NNNN_description.sql")
    return files


def apply_migrations(conn: psycopg2.extensions.connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every migration not applied yet; return the names applied now."""
    applied_now: list[str] = []
    conn.autocommit = False
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
    try:
        with conn, conn.cursor() as cur:
            cur.execute("CREATE SCHEMA IF NOT EXISTS utilities")
            cur.execute(
                """
                CREATE TABLE IF NOT EXISTS utilities.schema_migrations (
                    name text PRIMARY KEY,
                    checksum_sha256 text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """
            )
            cur.execute("SELECT name, checksum_sha256 FROM utilities.schema_migrations")
            done = dict(cur.fetchall())
        for path in migration_files(directory):
            text = path.read_text(encoding="utf-8")
            checksum = hashlib.sha256(text.encode()).hexdigest()
            if path.name in done:
                if done[path.name] != checksum:
                    raise RuntimeError(
                        f"migration {path.name} changed after it was applied; add a new migration instead"
                    )
                continue
            with conn, conn.cursor() as cur:
                cur.execute(text)
                cur.execute(
                    "INSERT INTO utilities.schema_migrations (name, checksum_sha256) VALUES (%s, %s)",
                    (path.name, checksum),
                )
            applied_now.append(path.name)
    finally:
        conn.rollback()
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))
        conn.commit()
    return applied_now
