"""Adopts a database of the legacy pipeline: converts its tables in place into the platform's schema.

Why in place and not "export, migrate, import": a legacy database holds months of history that people query,
with ids other systems know, and a user's own server. `etl adopt-legacy` keeps every row and every id, in one
transaction (all or nothing), and afterwards the database is exactly what `0001_initial_schema.sql` and the
later migrations make of an empty one, so the platform and its queries need no special case. Why an explicit
command: an in-place conversion of a production database should be a deliberate act, so `apply_migrations`
refuses a legacy database with a message naming the command instead of converting it by itself.

What changes, table by table (the rest of the shape follows 0001: types, NOT NULL, keys, indexes):
- serial ids become bigint identities (`BY DEFAULT` for the event tables, whose loads may give ids; `ALWAYS`
  for raw_events and processed_files) continuing after the greatest of the largest id and the old sequence's
  last value, so no id is ever handed out twice;
- naive timestamps (`created_at`, `loaded_at`, `rejected_at`, and `sale_date`, whose time of day is kept) become
  timestamptz read in the session's TimeZone, which the caller sets to the platform's ETL_TIMEZONE;
  `batch_created_at` stays a naive timestamp, as in 0001;
- raw_events gets `file_row`: the row's position among its batch's raw events (its raw_id order, the order the
  legacy pipeline inserted the file's rows in);
- rejected_events gets `reject_id` (numbered in rejected_at order) as its key instead of raw_id, its payload
  becomes text, and `event_type`/`file_row` come from the row's raw event (NULL / 0 without one);
- processed_files gets the platform's columns: batch_id = the file name without `.csv`, status 'loaded', the
  rest NULL. The file sensor counts a recorded file without size and mtime as loaded and unchanged, so the
  legacy files are never loaded again;
- rows the legacy seed loaded by COPY (no raw event, so NULL raw_id, batch_id and batch_created_at) are kept
  as batch 'legacy_seed' with raw_id 0 and batch_created_at = their created_at (sales: sale_date);
- the legacy foreign keys, the CHECK on stores.status and the legacy indexes are dropped: the platform's loads
  validate references themselves, and replacing a batch must be able to delete its rows.

The row count of every table is taken before and after; any difference raises, which rolls everything back.
Identifiers all come from this module (names read from the catalog, of constraints, indexes and sequences to
drop, are quoted with psycopg2.sql); values are always bound parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from etl_project.database.legacy_schema import (
    COLUMN_CHANGES,
    IDENTITIES,
    INITIAL_MIGRATION,
    KEYS_AND_INDEXES,
    NEW_COLUMN_VALUES,
    SCHEMA_OF,
    SEED_BATCH_ID,
    SEED_TIME_COLUMNS,
    TABLES,
)
from etl_project.database.migrations import (
    apply_migration,
    ensure_migrations_table,
    migration_checksum,
    migration_files,
    record_migration,
)
from etl_project.paths import MIGRATIONS_DIR
from etl_project.store.locks import MIGRATION_LOCK_ID
from etl_project.store.rows import one_row


class AdoptionError(RuntimeError):
    """The legacy database could not be adopted; nothing was changed."""


class NotLegacyDatabaseError(AdoptionError):
    """There is nothing to adopt: no legacy schema, or the platform's migrations are already recorded."""

    def __init__(self, message: str, already_adopted: bool):
        super().__init__(message)
        self.already_adopted = already_adopted


@dataclass
class AdoptionReport:
    """What an adoption did: rows per table (equal before and after), next ids, files marked processed."""

    timezone: str
    rows_before: dict[str, int]
    rows_after: dict[str, int]
    seed_rows: dict[str, int]
    next_ids: dict[str, int]
    files_marked_processed: int
    migrations_applied: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The report as text, for people."""
        out = [f"Adopted the legacy database (naive timestamps read in TimeZone {self.timezone}).", "Rows:"]
        for table, before in self.rows_before.items():
            seed = self.seed_rows.get(table.split(".")[1])
            note = f" ({seed} legacy seed rows kept as batch '{SEED_BATCH_ID}')" if seed else ""
            out.append(f"  {table:<28} {before:>10} before, {self.rows_after[table]:>10} after{note}")
        out.append("Next ids: " + ", ".join(f"{t} {n}" for t, n in self.next_ids.items()))
        out.append(f"Files marked processed (never loaded again): {self.files_marked_processed}")
        out.append(
            f"Dropped legacy constraints and indexes (the platform's keys are recreated): {', '.join(self.dropped) or 'none'}"
        )
        out.append(f"Migrations recorded or applied: {', '.join(self.migrations_applied)}")
        return out


def is_legacy_database(cur: psycopg2.extensions.cursor) -> bool:
    """Whether the database holds etl.raw_events without the platform's first migration recorded."""
    cur.execute(
        "SELECT to_regclass('etl.raw_events') IS NOT NULL, to_regclass('utilities.schema_migrations') IS NOT NULL"
    )
    has_raw_events, has_migrations = one_row(cur)
    if not has_raw_events:
        return False
    if not has_migrations:
        return True
    cur.execute(
        "SELECT NOT EXISTS (SELECT 1 FROM utilities.schema_migrations WHERE name = %s)", (INITIAL_MIGRATION,)
    )
    return one_row(cur)[0]


def adopt_legacy_database(conn: psycopg2.extensions.connection) -> AdoptionReport:
    """Convert the legacy tables in place and apply every migration, in one transaction; all or nothing.

    Naive timestamps are read in the connection's TimeZone: set it to the platform's ETL_TIMEZONE first.
    Raises `NotLegacyDatabaseError` when there is nothing to adopt, `AdoptionError` when a table is missing or
    a row count changed; either way (and on any database error) nothing is changed.
    """
    conn.autocommit = False
    with conn, conn.cursor() as cur:
        # Transaction-scoped: released by the commit or rollback; excludes apply_migrations everywhere.
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))
        _check_adoptable(cur)
        cur.execute("SHOW TimeZone")
        report = AdoptionReport(
            timezone=one_row(cur)[0],
            rows_before=_row_counts(cur),
            rows_after={},
            seed_rows={},
            next_ids={},
            files_marked_processed=0,
        )
        last_ids = {(table, column): _last_id(cur, table, column) for table, column, _ in IDENTITIES}
        report.dropped = _drop_legacy_keys_and_indexes(cur)
        for table, time_column in SEED_TIME_COLUMNS.items():
            report.seed_rows[table] = _keep_seed_rows(cur, table, time_column)
        for schema, table in TABLES:
            cur.execute(
                sql.SQL("ALTER TABLE {} ").format(sql.Identifier(schema, table))
                + sql.SQL(COLUMN_CHANGES[table])
            )
            if table in NEW_COLUMN_VALUES:
                cur.execute(NEW_COLUMN_VALUES[table])
            for statement in KEYS_AND_INDEXES[table]:
                cur.execute(statement)
        for table, column, kind in IDENTITIES:
            report.next_ids[table if column == "id" else f"{table}.{column}"] = _add_identity(
                cur, table, column, kind, last_ids[(table, column)]
            )
        cur.execute("SELECT count(*) FROM utilities.processed_files")
        report.files_marked_processed = one_row(cur)[0]
        report.migrations_applied = _record_and_apply_migrations(cur)
        report.rows_after = _row_counts(cur)
        if report.rows_after != report.rows_before:
            raise AdoptionError(
                f"row counts changed during adoption (before {report.rows_before}, after {report.rows_after}); "
                "rolled back, nothing changed"
            )
        # raw_events' identity is dropped again by 0004 (loads number raw events themselves).
        report.next_ids.pop("raw_events.raw_id", None)
    return report


def _check_adoptable(cur: psycopg2.extensions.cursor) -> None:
    if not is_legacy_database(cur):
        cur.execute("SELECT to_regclass('etl.raw_events') IS NOT NULL")
        if one_row(cur)[0]:
            raise NotLegacyDatabaseError(
                "Nothing to adopt: this database already has the platform's schema "
                f"({INITIAL_MIGRATION} is recorded in utilities.schema_migrations). Nothing was changed.",
                already_adopted=True,
            )
        raise NotLegacyDatabaseError(
            "Nothing to adopt: this database has no etl.raw_events, so it holds no legacy pipeline schema "
            "(check ETL_DATABASE_URL). Nothing was changed.",
            already_adopted=False,
        )
    missing = []
    for schema, table in TABLES:
        cur.execute("SELECT to_regclass(%s) IS NULL", (f"{schema}.{table}",))
        if one_row(cur)[0]:
            missing.append(f"{schema}.{table}")
    if missing:
        raise AdoptionError(
            f"not a complete legacy schema, missing {', '.join(missing)}; nothing was changed"
        )


def _row_counts(cur: psycopg2.extensions.cursor) -> dict[str, int]:
    counts = {}
    for schema, table in TABLES:
        cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table)))
        counts[f"{schema}.{table}"] = one_row(cur)[0]
    return counts


def _qualified(table: str) -> str:
    return f"{SCHEMA_OF[table]}.{table}"


def _last_id(cur: psycopg2.extensions.cursor, table: str, column: str) -> int | None:
    """The greatest id used so far: the largest in the table or the legacy sequence's last value, if any."""
    if table == "rejected_events":
        return None  # reject_id is new: numbered 1..n from the rows
    cur.execute(
        sql.SQL(
            "SELECT greatest(max({}), pg_sequence_last_value(pg_get_serial_sequence(%s, %s)::regclass)) FROM {}"
        ).format(sql.Identifier(column), sql.Identifier(SCHEMA_OF[table], table)),
        (_qualified(table), column),
    )
    return one_row(cur)[0]


def _drop_legacy_keys_and_indexes(cur: psycopg2.extensions.cursor) -> list[str]:
    """Drop every constraint but NOT NULL, then every index, of the legacy tables; foreign keys first."""
    dropped = []
    for kinds in (("f",), ("p", "u", "c", "x")):
        for schema, table in TABLES:
            cur.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = ANY(%s) "
                "ORDER BY conname",
                (f"{schema}.{table}", list(kinds)),
            )
            for (name,) in cur.fetchall():
                cur.execute(
                    sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                        sql.Identifier(schema, table), sql.Identifier(name)
                    )
                )
                dropped.append(name)
    for schema, table in TABLES:
        cur.execute(
            "SELECT n.nspname, c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE i.indrelid = %s::regclass ORDER BY c.relname",
            (f"{schema}.{table}",),
        )
        for index_schema, name in cur.fetchall():
            cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(index_schema, name)))
            dropped.append(name)
    return dropped


def _keep_seed_rows(cur: psycopg2.extensions.cursor, table: str, time_column: str) -> int:
    """Give the rows the legacy seed loaded by COPY (no batch) the batch 'legacy_seed'; return how many."""
    cur.execute(
        sql.SQL(
            "UPDATE {table} SET raw_id = coalesce(raw_id, 0), batch_id = coalesce(batch_id, %s), "
            "batch_created_at = coalesce(batch_created_at, {time}) "
            "WHERE raw_id IS NULL OR batch_id IS NULL OR batch_created_at IS NULL"
        ).format(table=sql.Identifier("etl", table), time=sql.Identifier(time_column)),
        (SEED_BATCH_ID,),
    )
    return cur.rowcount


def _add_identity(
    cur: psycopg2.extensions.cursor, table: str, column: str, kind: str, last: int | None
) -> int:
    """Replace the legacy serial sequence by an identity continuing after `last`; return the next id."""
    qualified = _qualified(table)
    cur.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.oid = pg_get_serial_sequence(%s, %s)::regclass",
        (qualified, column),
    )
    legacy_sequence = cur.fetchone()
    if legacy_sequence is not None:  # the serial's sequence (its column default is already dropped)
        cur.execute(sql.SQL("DROP SEQUENCE {}").format(sql.Identifier(*legacy_sequence)))
    identity = sql.SQL("ALWAYS" if kind == "ALWAYS" else "BY DEFAULT")
    cur.execute(
        sql.SQL("ALTER TABLE {} ALTER COLUMN {} ADD GENERATED {} AS IDENTITY").format(
            sql.Identifier(SCHEMA_OF[table], table), sql.Identifier(column), identity
        )
    )
    if table == "rejected_events":
        cur.execute("SELECT max(reject_id) FROM etl.rejected_events")
        last = one_row(cur)[0]
    if last is None:
        return 1
    cur.execute("SELECT setval(pg_get_serial_sequence(%s, %s), %s)", (qualified, column, last))
    return last + 1


def _record_and_apply_migrations(cur: psycopg2.extensions.cursor) -> list[str]:
    """Record 0001 (the tables now have its shape) and apply every later migration, in the caller's transaction."""
    done = ensure_migrations_table(cur)
    names = []
    for path in migration_files(MIGRATIONS_DIR):
        if path.name == INITIAL_MIGRATION:
            checksum = migration_checksum(path.read_text(encoding="utf-8"))
            record_migration(cur, path.name, checksum)
            done[path.name] = checksum
            names.append(path.name)
        elif apply_migration(cur, path, done):
            names.append(path.name)
    return names


def adopt_legacy_database_at(url: str, timezone: str) -> AdoptionReport:
    """Connect to `url` (without migrating: that would refuse), set TimeZone to `timezone`, adopt, close.

    Database errors (a NULL where the platform needs a value, a view depending on a column...) are raised as
    `AdoptionError` with PostgreSQL's message; the transaction is rolled back.
    """
    try:
        conn = psycopg2.connect(url, application_name="etl_project adopt-legacy")
    except psycopg2.Error as err:
        raise AdoptionError(f"cannot connect to the database: {err}".strip()) from err
    try:
        conn.autocommit = True  # the session setting must outlive this statement's transaction
        with conn.cursor() as cur:
            cur.execute("SELECT set_config('TimeZone', %s, false)", (timezone,))
        return adopt_legacy_database(conn)
    except psycopg2.Error as err:
        raise AdoptionError(
            f"adoption failed and was rolled back, nothing was changed: {err}".strip()
        ) from err
    finally:
        conn.close()
