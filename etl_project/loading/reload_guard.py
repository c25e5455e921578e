"""A reload never orphans another batch's rows: a new version of a file that would remove a store, product or
order still referenced by rows of other batches is refused, and the loaded version stays.

The rule: ids do not move (`statements.ids`), so a reload removes an entity id only when the new version has
fewer rows of that type (or gives a row an explicit id of its own). If any row of another batch references a
removed id, the load raises `ReloadRefusedError` inside its transaction: nothing of the new version is applied,
the caller quarantines that version with the reason (the file's check, `etl status`, `etl quarantine list`,
one Slack message) and the previously loaded rows stay as they were. Put the missing rows back (or `etl
quarantine retry` once the file is fixed) to load it.
"""

from __future__ import annotations

from pathlib import PurePath

import psycopg2.extensions

from etl_project.loading.batch_file import BatchFileError
from etl_project.loading.params import LoadParams, RemovedIdsParams
from etl_project.loading.staging_tables import StagingTables
from etl_project.loading.statements import kept_references
from etl_project.schemas import EVENT_SCHEMAS
from etl_project.store.rows import one_row


class ReloadRefusedError(BatchFileError):
    """A new version of a batch file would orphan rows of other batches: refused, the loaded version stays."""


def removed_entity_ids(
    cur: psycopg2.extensions.cursor, tables: StagingTables, params: LoadParams
) -> dict[str, list[int]]:
    """Per entity table, the ids the batch's previous load had and this load no longer has."""
    removed = {}
    for schema in EVENT_SCHEMAS:
        if schema.is_entity:
            cur.execute(
                kept_references.removed_ids(schema, tables.previous_ids(schema.table)), params.as_params()
            )
            removed[schema.table] = sorted(row[0] for row in cur.fetchall())
    return removed


def refuse_orphaning_reload(
    cur: psycopg2.extensions.cursor, path: PurePath, removed: dict[str, list[int]], params: LoadParams
) -> None:
    """Raise `ReloadRefusedError` when rows of other batches reference an id in `removed`. Each reference is
    looked for only when its table lost ids, so an ordinary reload costs nothing here."""
    problems = []
    for schema, field in kept_references.references():
        ids = removed.get(field.references or "", [])
        if not ids:
            continue
        cur.execute(
            kept_references.rows_referencing_removed(schema, field), RemovedIdsParams(params, ids).as_params()
        )
        rows, batches, shown = one_row(cur)
        if rows:
            problems.append(
                f"{rows} row(s) of etl.{schema.table} in other batches (e.g. {', '.join(batches)}) reference "
                f"{field.name} {', '.join(map(str, shown))}, which this version no longer has"
            )
    if problems:
        raise ReloadRefusedError(
            path,
            "reload refused, the loaded version is kept: "
            + "; ".join(problems)
            + ". Restore those rows in the file (or drop the referencing batches first), then "
            "`etl quarantine retry " + params.batch_id + "`",
        )
