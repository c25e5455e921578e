"""A load stages and validates on two connections: a large file is staged in two parts, one per connection,
and slices of the sales are checked by the validator or by the writer, whichever is free. How the work was
shared must never show in the outcome."""

import json

import psycopg2
import pytest

from etl_project.loading import batch_loader, load_batch, staging
from etl_project_tests.helpers import entity_rows, write_raw_batch

pytestmark = pytest.mark.every_postgres_major

CREATED = "2025-04-20 09:20:00"
SALE = {"sale_date": "2025-04-20", "order_id": 3, "store_id": 1, "product_id": 2, "quantity": 2}
BAD_SALES = [
    ({"quantity": 0}, "not positive: quantity must be > 0, got 0"),
    ({"store_id": 99}, "unknown store_id: no row in etl.stores with id 99"),
    (
        {"sale_date": "20/04/2025"},
        'wrong type: sale_date must be an ISO 8601 date or timestamp (YYYY-MM-DD[ HH:MM:SS][+HH:MM]), got "20/04/2025"',
    ),
    ({"order_id": "3"}, 'wrong type: order_id must be an integer, got "3"'),
]


EARLIER_STORE = 7


def _load_earlier_batch(database_url: str, shared_dir) -> None:
    """Batch `q`, loaded first, with the store that a third of `p`'s sales reference."""
    store = {"id": EARLIER_STORE, "created_at": CREATED, "name": "B", "tax_id": 2, "status": "active"}
    path = write_raw_batch(shared_dir, "q", [("q", "store_event", json.dumps(store), CREATED)])
    conn = psycopg2.connect(database_url)
    load_batch(conn, "q", path)
    conn.close()


def _batch_rows() -> tuple[list[tuple[str, ...]], dict[int, str]]:
    rows = entity_rows("p", CREATED)
    expected: dict[int, str] = {}
    for n in range(3000):
        change, reason = BAD_SALES[n % len(BAD_SALES)] if n % 97 == 0 else ({}, None)
        earlier_store = {"store_id": EARLIER_STORE} if n % 3 == 1 else {}  # found in another batch
        rows.append(("p", "sales_event", json.dumps({**SALE, **earlier_store, **change}), CREATED))
        if reason:
            expected[len(rows)] = reason
    return rows, expected


@pytest.fixture
def staged_parts(monkeypatch) -> list[int]:
    """Counts the parts each staging attempt COPYs (appended per part)."""
    calls: list[int] = []
    copy_part = staging._copy_part

    def counting(*args, **kwargs):
        calls.append(1)
        return copy_part(*args, **kwargs)

    monkeypatch.setattr(staging, "_copy_part", counting)
    return calls


@pytest.mark.parametrize("split", [True, False], ids=["file in two parts", "file in one part"])
@pytest.mark.parametrize("slice_rows", [100, 1_000_000], ids=["many slices", "one slice"])
def test_how_the_work_is_shared_does_not_change_the_outcome(
    split, slice_rows, monkeypatch, staged_parts, database_url, shared_dir, db
):
    monkeypatch.setattr(batch_loader, "SLICE_ROWS", slice_rows)
    monkeypatch.setattr(staging, "PARALLEL_STAGING_MIN_BYTES", 0 if split else 1 << 40)
    _load_earlier_batch(database_url, shared_dir)
    staged_parts.clear()
    rows, expected = _batch_rows()
    path = write_raw_batch(shared_dir, "p", rows)

    conn = psycopg2.connect(database_url)
    report = load_batch(conn, "p", path)
    conn.close()

    assert report.parsed_by == "postgresql"
    assert len(staged_parts) == (2 if split else 1)
    with db.cursor() as cur:
        cur.execute("SELECT file_row, rejection_reason FROM etl.rejected_events WHERE batch_id = 'p'")
        assert dict(cur.fetchall()) == expected
        cur.execute(
            "SELECT count(*), count(DISTINCT s.raw_id), bool_and(r.event_type = 'sales_event') "
            "FROM etl.sales s JOIN etl.raw_events r USING (raw_id) WHERE s.batch_id = 'p'"
        )
        assert cur.fetchone() == (3000 - len(expected), 3000 - len(expected), True)
        cur.execute("SELECT array_agg(file_row ORDER BY file_row) FROM etl.raw_events WHERE batch_id = 'p'")
        assert cur.fetchone()[0] == list(range(1, len(rows) + 1))  # numbered across the cut
    assert report.loaded["sales"] == 3000 - len(expected)


def test_rows_spanning_lines_are_staged_in_one_part(monkeypatch, staged_parts, database_url, shared_dir, db):
    """A cut at a line break may fall inside a quoted field; then the two parts are dropped and the file is
    staged again in one part, still by PostgreSQL, every record numbered as it comes in the file."""
    _load_earlier_batch(database_url, shared_dir)
    monkeypatch.setattr(staging, "PARALLEL_STAGING_MIN_BYTES", 0)
    staged_parts.clear()
    rows, expected = _batch_rows()
    rows = [(b, t, json.dumps(json.loads(payload), indent=1), c) for b, t, payload, c in rows]  # 7 lines each
    path = write_raw_batch(shared_dir, "p", rows)

    conn = psycopg2.connect(database_url)
    report = load_batch(conn, "p", path)
    conn.close()

    assert report.parsed_by == "postgresql" and len(staged_parts) == 3  # two parts, then one
    assert (report.rows_read, report.rows_rejected) == (len(rows), len(expected))
    with db.cursor() as cur:
        cur.execute("SELECT file_row, rejection_reason FROM etl.rejected_events WHERE batch_id = 'p'")
        assert dict(cur.fetchall()) == expected
        cur.execute("SELECT array_agg(file_row ORDER BY file_row) FROM etl.raw_events WHERE batch_id = 'p'")
        assert cur.fetchone()[0] == list(range(1, len(rows) + 1))
