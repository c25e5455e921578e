"""What the committed tables hold of one batch, counted after its load: the numbers its data-quality checks judge.

Counted from the database, not from the loader's own counters, so that a row counted in the wrong table or lost
between the load and its commit shows up as a batch whose rows do not add up. One query; the event tables are
read by the load's raw_id range (a BRIN range scan), the rejections by batch id.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import psycopg2.extensions
from psycopg2 import sql

from etl_project.loading import rejections
from etl_project.loading.params import BATCH_ID, RAW_ID_BASE
from etl_project.loading.statements.common import RAW_ID_RANGE, event_table
from etl_project.schemas import EVENT_SCHEMAS
from etl_project.store.processed_files import loaded_range

#: Reasons listed in a check's `top_reasons`.
TOP_REASONS = 5


@dataclass(frozen=True)
class RowsAccount:
    """Rows of one event type (or of the whole file): in the file, loaded into their table, rejected."""

    rows_in_file: int
    rows_loaded: int
    rows_rejected: int
    rejected_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def accounted_for(self) -> bool:
        return self.rows_loaded + self.rows_rejected == self.rows_in_file

    @property
    def rejected_percent(self) -> float:
        return round(100.0 * self.rows_rejected / self.rows_in_file, 2) if self.rows_in_file else 0.0

    def top_reasons(self, limit: int = TOP_REASONS) -> list[dict[str, object]]:
        """The most frequent rejection categories, most frequent first: [{"reason": ..., "count": ...}]."""
        ranked = sorted(self.rejected_by_reason.items(), key=lambda item: (-item[1], item[0]))
        return [{"reason": reason, "count": count} for reason, count in ranked[:limit]]


@dataclass(frozen=True)
class BatchAccounting:
    """A batch's rows as committed: the whole file (`file`) and each event table (`tables`, by table name)."""

    filename: str
    file: RowsAccount
    tables: dict[str, RowsAccount]


def _count_statement() -> sql.Composed:
    in_load = sql.SQL("raw_id > {base} AND raw_id < {base} + {width}").format(
        base=RAW_ID_BASE, width=sql.Literal(RAW_ID_RANGE)
    )
    loaded = [
        sql.SQL("SELECT 'loaded', {}, '', count(*) FROM {} WHERE {}").format(
            sql.Literal(schema.event_type), event_table(schema.table), in_load
        )
        for schema in EVENT_SCHEMAS
    ]
    parts = [
        sql.SQL("SELECT 'landed', event_type, '', count(*) FROM etl.raw_events WHERE {} GROUP BY 2").format(
            in_load
        ),
        sql.SQL(
            "SELECT CASE WHEN raw_id IS NULL THEN 'envelope' ELSE 'payload' END, event_type, {}, count(*) "
            "FROM etl.rejected_events WHERE batch_id = {} GROUP BY 1, 2, 3"
        ).format(rejections.category_sql(sql.SQL("rejection_reason")), BATCH_ID),
        *loaded,
    ]
    return sql.SQL(" UNION ALL ").join(parts)


def count_batch_rows(conn: psycopg2.extensions.connection, batch_id: str) -> BatchAccounting | None:
    """Count what the committed tables hold of the batch's loaded file; None if no load of it is recorded
    with a raw_id range (never loaded, or loaded by the legacy pipeline)."""
    recorded = loaded_range(conn, batch_id)
    if recorded is None:
        return None
    filename, raw_id_base, rows_in_file = recorded
    landed: Counter[str] = Counter()
    loaded: Counter[str] = Counter()
    envelope: Counter[str] = Counter()
    reasons: dict[str, Counter[str]] = {schema.event_type: Counter() for schema in EVENT_SCHEMAS}
    all_reasons: Counter[str] = Counter()
    with conn, conn.cursor() as cur:
        cur.execute(_count_statement(), {"batch_id": batch_id, "raw_id_base": raw_id_base})
        for kind, event_type, category, n in cur.fetchall():
            if kind == "landed":
                landed[event_type] += n
            elif kind == "loaded":
                loaded[event_type] += n
            else:
                all_reasons[category] += n
                if event_type in reasons:
                    reasons[event_type][category] += n
                if kind == "envelope":
                    envelope[event_type] += n
    tables = {
        schema.table: RowsAccount(
            rows_in_file=landed[schema.event_type] + envelope[schema.event_type],
            rows_loaded=loaded[schema.event_type],
            rows_rejected=sum(reasons[schema.event_type].values()),
            rejected_by_reason=dict(reasons[schema.event_type]),
        )
        for schema in EVENT_SCHEMAS
    }
    whole_file = RowsAccount(
        rows_in_file=rows_in_file,
        rows_loaded=sum(loaded.values()),
        rows_rejected=sum(all_reasons.values()),
        rejected_by_reason=dict(all_reasons),
    )
    return BatchAccounting(filename=filename, file=whole_file, tables=tables)
