"""A load validates on two connections: slices of the sales are checked by the validator (from its staging
table) or by the writer (from its raw_events), whichever is free. Who checks a slice must not matter."""

import json

import psycopg2
import pytest

from etl_project.loading import batch_loader
from etl_project.loading.batch_loader import load_batch
from etl_project_tests.helpers import write_raw_batch

CREATED = "2025-04-20 09:20:00"
SALE = {"sale_date": "2025-04-20", "order_id": 3, "store_id": 1, "product_id": 2, "quantity": 2}
BAD_SALES = [
    ({"quantity": 0}, "not positive: quantity must be > 0, got 0"),
    ({"store_id": 99}, "unknown store_id: no row in etl.stores with id 99"),
    ({"sale_date": "20/04/2025"}, 'wrong type: sale_date must be a date (YYYY-MM-DD), got "20/04/2025"'),
    ({"order_id": "3"}, 'wrong type: order_id must be an integer, got "3"'),
]


def _batch_rows() -> tuple[list[tuple[str, ...]], dict[int, str]]:
    rows = [
        (
            "p",
            "store_event",
            json.dumps({"id": 1, "created_at": CREATED, "name": "A", "tax_id": 1, "status": "active"}),
            CREATED,
        ),
        (
            "p",
            "product_event",
            json.dumps({"id": 2, "created_at": CREATED, "name": "Pen", "price": 2.5}),
            CREATED,
        ),
        ("p", "order_event", json.dumps({"id": 3, "created_at": CREATED, "user_id": 9}), CREATED),
    ]
    expected: dict[int, str] = {}
    for n in range(3000):
        change, reason = BAD_SALES[n % len(BAD_SALES)] if n % 97 == 0 else ({}, None)
        rows.append(("p", "sales_event", json.dumps({**SALE, **change}), CREATED))
        if reason:
            expected[len(rows)] = reason
    return rows, expected


@pytest.mark.parametrize("slice_rows", [100, 1_000_000], ids=["many slices", "one slice"])
def test_who_validates_a_slice_does_not_change_the_outcome(
    slice_rows, monkeypatch, database_url, shared_dir, db
):
    monkeypatch.setattr(batch_loader, "SLICE_ROWS", slice_rows)
    rows, expected = _batch_rows()
    path = write_raw_batch(shared_dir, "p", rows)

    conn = psycopg2.connect(database_url)
    report = load_batch(conn, "p", path)
    conn.close()

    assert report.parsed_by == "postgresql"  # the writer's own COPY stands, so it takes slices too
    with db.cursor() as cur:
        cur.execute("SELECT file_row, rejection_reason FROM etl.rejected_events WHERE batch_id = 'p'")
        assert dict(cur.fetchall()) == expected
        cur.execute(
            "SELECT count(*), count(DISTINCT s.raw_id), bool_and(r.event_type = 'sales_event') "
            "FROM etl.sales s JOIN etl.raw_events r USING (raw_id) WHERE s.batch_id = 'p'"
        )
        assert cur.fetchone() == (3000 - len(expected), 3000 - len(expected), True)
    assert report.loaded["sales"] == 3000 - len(expected)
