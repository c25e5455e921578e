"""What one load did (`BatchLoadReport`), for run metadata and logs, and the queries that fill it in."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import psycopg2.extensions

from etl_project.loading import rejections
from etl_project.loading.errors import RowsNotAccountedForError
from etl_project.loading.params import BatchParams, LoadParams
from etl_project.loading.statements import replace
from etl_project.schemas import EVENT_SCHEMAS

#: Rows shown in the materialisation's preview.
PREVIEW_ROWS = 5


@dataclass
class BatchLoadReport:
    """What one load did, for run metadata and logs."""

    batch_id: str
    filename: str
    checksum_sha256: str
    size_bytes: int
    rows_read: int
    raw_events: int
    loaded: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, Counter[str]] = field(default_factory=dict)
    raw_id_base: int | None = None
    file_mtime_ns: int | None = None
    #: The bucket object's ETag (None: a file of the shared directory).
    source_etag: str | None = None
    parsed_by: str = ""
    ignored_columns: list[str] = field(default_factory=list)
    preview: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    #: Entity ids the batch's previous load had and this one no longer has (referenced by no other batch).
    removed_ids: dict[str, list[int]] = field(default_factory=dict)

    @property
    def rows_loaded(self) -> int:
        return sum(self.loaded.values())

    @property
    def rows_rejected(self) -> int:
        return sum(sum(c.values()) for c in self.rejected.values())

    def rejected_by_reason(self, table: str | None = None) -> dict[str, int]:
        """Rejections counted by reason category; `table=None` for all, `"raw_events"` for envelope ones."""
        total: Counter[str] = Counter()
        for key, counts in self.rejected.items():
            if table is None or key == table:
                total.update(counts)
        return dict(total.most_common())


def rejections_by_table(cur: psycopg2.extensions.cursor, batch_id: str) -> dict[str, Counter[str]]:
    """The batch's rejections counted by reason category, per table ("raw_events" for envelope ones), in one query."""
    cur.execute(rejections.count_by_table_and_category(), BatchParams(batch_id).as_params())
    tables = {schema.event_type: schema.table for schema in EVENT_SCHEMAS}
    counts: dict[str, Counter[str]] = {"raw_events": Counter(), **{t: Counter() for t in tables.values()}}
    for event_type, category, n in cur.fetchall():
        counts["raw_events" if event_type is None else tables[event_type]][category] = n
    return counts


def preview(cur: psycopg2.extensions.cursor, table: str, params: LoadParams) -> list[dict[str, object]]:
    """The first rows the load put in `etl.<table>`."""
    cur.execute(replace.select_batch_preview(table, PREVIEW_ROWS), params.as_params())
    names = [d.name for d in cur.description or ()]
    return [
        {n: (v if isinstance(v, int | float) else str(v)) for n, v in zip(names, row, strict=True)}
        for row in cur.fetchall()
    ]


def check_every_row_accounted_for(report: BatchLoadReport) -> None:
    accounted = report.rows_loaded + report.rows_rejected
    if accounted != report.rows_read:
        raise RowsNotAccountedForError(
            f"{report.filename}: {report.rows_read} rows read but {report.rows_loaded} loaded and "
            f"{report.rows_rejected} rejected; rolling back"
        )
