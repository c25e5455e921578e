"""A load's staging tables: scratch space that both of the load's connections read.

Staging tables are UNLOGGED tables in the schema `etl_staging`, one set per load, named from its load number
only (never from file contents), committed as soon as they are filled. They are never part of the load's
transaction: the event tables only change in that transaction. The load drops its staging tables when it ends;
those of a load whose process was killed are dropped by the next load (a session advisory lock held by each
load's validating connection tells which loads still run).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from etl_project.loading.statements import references
from etl_project.loading.statements.staging import create_staging_rejections
from etl_project.store.locks import STAGING_LOCK_CLASS
from etl_project.store.rows import one_row

#: Schema of the staging tables (created by migration 0006).
STAGING_SCHEMA = "etl_staging"
_LOAD_TABLE = re.compile(r"^load_(\d+)_[a-z0-9_]+$")


@dataclass(frozen=True)
class StagingTables:
    """The names of one load's staging tables (from its load number only, never from file contents)."""

    load_number: int

    def part_name(self, k: int) -> str:
        return f"load_{self.load_number}_part{k}"

    def part(self, k: int) -> sql.Identifier:
        return sql.Identifier(STAGING_SCHEMA, self.part_name(k))

    def staged_part(self, k: int, rows: int) -> StagedPart:
        return StagedPart(self.part(k), f"{STAGING_SCHEMA}.{self.part_name(k)}", rows)

    @property
    def prefix(self) -> str:
        return f"load_{self.load_number}_"

    @property
    def rejections(self) -> sql.Identifier:
        return sql.Identifier(STAGING_SCHEMA, f"{self.prefix}rejections")

    @property
    def entity_events(self) -> sql.Identifier:
        """The staged rows of the entity types, apart from the (usually far more numerous) others."""
        return sql.Identifier(STAGING_SCHEMA, f"{self.prefix}entity_events")

    def validated(self, name: str) -> sql.Identifier:
        """Where the validator puts one validation's outcome (`validate.validate_events(into=...)`)."""
        return sql.Identifier(STAGING_SCHEMA, f"{self.prefix}validated_{name}")

    def entities(self, table: str) -> sql.Identifier:
        """The load's valid rows of an entity table, ids assigned (`ids.create_entity_table`)."""
        return sql.Identifier(STAGING_SCHEMA, f"{self.prefix}{table}")

    def previous_ids(self, table: str) -> sql.Identifier:
        """(position, id) of the batch's previous load's rows of an entity table (`ids.create_previous_ids`)."""
        return sql.Identifier(STAGING_SCHEMA, f"{self.prefix}previous_{table}")

    def rows_visible_to_batch(self, table: str) -> list[sql.Composable]:
        """`validate_events`' `rows_of` for the validator: other batches' rows and the load's entity table."""
        return references.rows_visible_to_batch(table, self.entities(table))

    def rows_known_to_writer(self, table: str) -> list[sql.Composable]:
        """`validate_events`' `rows_of` for the writer: the load's entity table, then `etl.<table>`."""
        return references.rows_known_to_writer(table, self.entities(table))


@dataclass
class StagedPart:
    """One staging part holding rows of the file."""

    table: sql.Identifier
    regclass: str
    rows: int


def claim_staging(cur: psycopg2.extensions.cursor, load_number: int) -> StagingTables:
    """Mark the load's staging tables as in use (for as long as `cur`'s session lives), drop those of loads
    that are gone, and create the load's rejections table. `cur`'s connection must be in autocommit."""
    cur.execute("SELECT pg_advisory_lock(%s, %s)", (STAGING_LOCK_CLASS, load_number))
    _drop_abandoned_staging(cur, load_number)
    tables = StagingTables(load_number)
    cur.execute(create_staging_rejections(tables.rejections))
    return tables


def release_staging(cur: psycopg2.extensions.cursor, tables: StagingTables) -> None:
    """Drop the load's staging tables and release their lock."""
    drop_staging(cur, tables)
    cur.execute("SELECT pg_advisory_unlock(%s, %s)", (STAGING_LOCK_CLASS, tables.load_number))


def drop_staging(cur: psycopg2.extensions.cursor, tables: StagingTables, parts_only: bool = False) -> None:
    """Drop the load's staging tables (those the catalog lists under its prefix), or only its parts."""
    cur.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s AND starts_with(tablename, %s)",
        (STAGING_SCHEMA, tables.prefix + ("part" if parts_only else "")),
    )
    names = [name for (name,) in cur.fetchall() if _LOAD_TABLE.match(name)]
    if names:
        cur.execute(
            sql.SQL("DROP TABLE IF EXISTS {}").format(
                sql.SQL(", ").join(sql.Identifier(STAGING_SCHEMA, name) for name in names)
            )
        )


def _drop_abandoned_staging(cur: psycopg2.extensions.cursor, own_load: int) -> None:
    """Staging tables of loads whose connection is gone (a killed process) are dropped."""
    cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (STAGING_SCHEMA,))
    loads = {int(m.group(1)) for (name,) in cur.fetchall() if (m := _LOAD_TABLE.match(name))}
    for load_number in sorted(loads - {own_load}):
        cur.execute("SELECT pg_try_advisory_lock(%s, %s)", (STAGING_LOCK_CLASS, load_number))
        if one_row(cur)[0]:  # nobody holds it: that load is over
            release_staging(cur, StagingTables(load_number))


@contextmanager
def autocommit(conn: psycopg2.extensions.connection) -> Iterator[psycopg2.extensions.cursor]:
    """A cursor whose statements commit one by one (staging tables are shared as soon as they are filled)."""
    previous = conn.autocommit
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            yield cur
    finally:
        conn.autocommit = previous


@contextmanager
def transaction(conn: psycopg2.extensions.connection) -> Iterator[psycopg2.extensions.cursor]:
    """A cursor in a transaction of its own, committed on success (the connection's mode restored after)."""
    previous = conn.autocommit
    conn.autocommit = False
    try:
        with conn, conn.cursor() as cur:
            yield cur
    finally:
        conn.autocommit = previous
