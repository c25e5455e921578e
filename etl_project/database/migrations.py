"""Applies the ordered SQL migrations of `etl_db/migrations/` exactly once per database.

Each file runs in its own transaction under an advisory lock, so that several processes starting at the same
moment (webserver, daemon, run workers) apply each migration once, and a failed migration leaves nothing.
A database holding the legacy pipeline's tables is refused with a message naming `etl adopt-legacy`
(legacy_adoption.py), which converts it in place and applies the migrations in its own single transaction.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import psycopg2.extensions

from etl_project.paths import MIGRATIONS_DIR
from etl_project.store.locks import MIGRATION_LOCK_ID

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    """Migration files in the order they apply; a misnamed file is an error, not something to skip."""
    files = sorted(p for p in directory.iterdir() if p.suffix == ".sql")
    for path in files:
        if not _MIGRATION_NAME.match(path.name):
            raise ValueError(f"migration {path.name} is not named NNNN_description.sql")
    return files


class LegacyDatabaseError(RuntimeError):
    """The database holds the legacy pipeline's tables: migrating would fail on `CREATE TABLE`, so we refuse."""


LEGACY_DATABASE_MESSAGE = (
    "This database holds the legacy pipeline's schema (etl.raw_events without the platform's migrations). "
    "Run `etl adopt-legacy` once to convert it in place (one transaction, no row lost); "
    "see docs/legacy-migration.md, 'Migrating from the legacy pipeline'."
)


def migration_checksum(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def ensure_migrations_table(cur: psycopg2.extensions.cursor) -> dict[str, str]:
    """Create utilities.schema_migrations if needed; return the names and checksums applied so far."""
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
    return dict(cur.fetchall())


def apply_migration(cur: psycopg2.extensions.cursor, path: Path, done: dict[str, str]) -> bool:
    """Run one migration file and record it, inside the caller's transaction; False if it was applied before.

    `done` maps the names already applied to their checksums (from `ensure_migrations_table`).
    """
    text = path.read_text(encoding="utf-8")
    checksum = migration_checksum(text)
    if path.name in done:
        if done[path.name] != checksum:
            raise RuntimeError(
                f"migration {path.name} changed after it was applied; add a new migration instead"
            )
        return False
    cur.execute(text)
    record_migration(cur, path.name, checksum)
    return True


def record_migration(cur: psycopg2.extensions.cursor, name: str, checksum: str) -> None:
    cur.execute(
        "INSERT INTO utilities.schema_migrations (name, checksum_sha256) VALUES (%s, %s)", (name, checksum)
    )


def apply_migrations(conn: psycopg2.extensions.connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every migration not applied yet; return the names applied now.

    Raises `LegacyDatabaseError`, changing nothing, when the database holds the legacy pipeline's schema.
    """
    # Imported here: legacy_adoption builds on this module.
    from etl_project.database.legacy_adoption import is_legacy_database

    applied_now: list[str] = []
    conn.autocommit = False
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
    try:
        with conn, conn.cursor() as cur:
            if is_legacy_database(cur):
                raise LegacyDatabaseError(LEGACY_DATABASE_MESSAGE)
            done = ensure_migrations_table(cur)
        for path in migration_files(directory):
            with conn, conn.cursor() as cur:
                if apply_migration(cur, path, done):
                    applied_now.append(path.name)
    finally:
        conn.rollback()
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))
        conn.commit()
    return applied_now
