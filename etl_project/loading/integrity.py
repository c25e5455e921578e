"""Does any row reference a store, product or order that does not exist? The guard behind the loader's own
rules (references validated at load, referenced rows never removed by a reload), evaluated after every load on
what it touched and every day on everything (`references_valid`).

Foreign keys, which the legacy schema had and `etl adopt-legacy` drops, would refuse such rows too, but a
foreign key is checked row by row by a trigger on every insert of every load; this check costs one query after
a load and one scan a day, and says which batches hold the rows, which a refused insert does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg2.extensions

from etl_project.loading.params import LoadParams, RemovedIdsParams
from etl_project.loading.statements import integrity
from etl_project.schemas import EventSchema, PayloadField
from etl_project.store.rows import one_row


@dataclass
class DanglingReferences:
    """Rows referencing a missing row, per `<table>.<field>`, and some batches holding them."""

    rows: dict[str, int] = field(default_factory=dict)
    batches: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def add(
        self,
        cur: psycopg2.extensions.cursor,
        schema: EventSchema,
        fields: list[PayloadField],
        scope: str,
        params: dict[str, Any],
    ) -> None:
        """Count `schema`'s dangling rows in `scope`; name their batches when there are any."""
        cur.execute(integrity.count_dangling(schema, fields, scope), params)
        counts = one_row(cur)
        for field_, count in zip(fields, counts, strict=True):
            label = f"{schema.table}.{field_.name}"
            self.rows[label] = self.rows.get(label, 0) + count
        if any(counts):
            cur.execute(integrity.batches_with_dangling(schema, fields, scope), params)
            found = {row[0] for row in cur.fetchall()}
            self.batches = sorted(set(self.batches) | found)[: integrity.SHOWN_BATCHES]

    def summary(self) -> str:
        if not self.total:
            return "every store, product and order referenced exists"
        found = ", ".join(f"{label}: {count}" for label, count in self.rows.items() if count)
        return f"{self.total} row(s) reference a missing row ({found}), in batches {', '.join(self.batches)}"


def dangling_references_everywhere(conn: psycopg2.extensions.connection) -> DanglingReferences:
    """Every row of every table (the daily check): one scan of each referencing table."""
    found = DanglingReferences()
    with conn, conn.cursor() as cur:
        for schema, fields in integrity.referencing_schemas():
            found.add(cur, schema, fields, "all", {})
    return found


def dangling_references_after_load(
    conn: psycopg2.extensions.connection, batch_id: str, raw_id_base: int, removed_ids: dict[str, list[int]]
) -> DanglingReferences:
    """What one load touched: its own rows (its raw_id range), and any row still referencing an id the load
    removed (looked for only when it removed some)."""
    params = LoadParams(batch_id, raw_id_base, usual_batch_created_at=None)
    found = DanglingReferences()
    removed = sorted({i for ids in removed_ids.values() for i in ids})
    with conn, conn.cursor() as cur:
        for schema, fields in integrity.referencing_schemas():
            found.add(cur, schema, fields, "load", params.as_params())
            if removed:
                found.add(cur, schema, fields, "removed", RemovedIdsParams(params, removed).as_params())
    return found
