"""A database of the legacy pipeline, as its DDL creates it and its loads fill it (../shared/legacy-notes.md).

`create_legacy_schema` is the legacy DDL written from the notes' column list: serial keys, foreign keys, the
four sales indexes, the CHECK on stores.status, jsonb payloads, naive timestamps. `fill_legacy_database`
fills it the way the legacy pipeline does: a seed loaded by COPY (no raw events: NULL raw_id, batch_id and
batch_created_at), then one batch per day through raw_events into the typed tables with serial ids, rejected
events with their jsonb payloads, and `<run_id>.csv` rows in utilities.processed_files.

The sales make a known story for the sales-drop check: two stores sell 100.00 a day for the days before the
last one; on the last day (`as_of`) the steady store sells the same and the dropping store 20.00 (-80%).
"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import psycopg2.extensions
from psycopg2 import sql

from etl_testkit import legacy_files

LEGACY_DDL = """
CREATE SCHEMA IF NOT EXISTS etl;
CREATE SCHEMA IF NOT EXISTS utilities;

CREATE TABLE etl.raw_events (
    raw_id           serial PRIMARY KEY,
    batch_id         text,
    event_type       text,
    payload          jsonb,
    batch_created_at timestamp
);

CREATE TABLE etl.stores (
    raw_id           int REFERENCES etl.raw_events (raw_id),
    batch_id         text,
    batch_created_at timestamp,
    id               serial PRIMARY KEY,
    created_at       timestamp,
    name             text,
    tax_id           bigint,
    status           text CHECK (status IN ('active', 'closed', 'test'))
);

CREATE TABLE etl.products (
    raw_id           int REFERENCES etl.raw_events (raw_id),
    batch_id         text,
    batch_created_at timestamp,
    id               serial PRIMARY KEY,
    created_at       timestamp,
    name             text,
    price            decimal(10,2)
);

CREATE TABLE etl.orders (
    raw_id           int REFERENCES etl.raw_events (raw_id),
    batch_id         text,
    batch_created_at timestamp,
    id               serial PRIMARY KEY,
    created_at       timestamp,
    user_id          int
);

CREATE TABLE etl.sales (
    raw_id           int REFERENCES etl.raw_events (raw_id),
    batch_id         text,
    batch_created_at timestamp,
    id               serial PRIMARY KEY,
    order_id         int REFERENCES etl.orders (id),
    store_id         int REFERENCES etl.stores (id),
    product_id       int REFERENCES etl.products (id),
    quantity         int,
    sale_date        timestamp
);
CREATE INDEX idx_sales_order_id ON etl.sales (order_id);
CREATE INDEX idx_sales_store_id ON etl.sales (store_id);
CREATE INDEX idx_sales_product_id ON etl.sales (product_id);
CREATE INDEX idx_sales_sale_date ON etl.sales (sale_date);

CREATE TABLE etl.rejected_events (
    raw_id           int PRIMARY KEY,
    batch_id         text,
    batch_created_at timestamp,
    rejection_reason text,
    payload          jsonb,
    rejected_at      timestamp DEFAULT now()
);

CREATE TABLE utilities.processed_files (
    id        serial PRIMARY KEY,
    filename  text UNIQUE,
    loaded_at timestamp DEFAULT now()
);
"""

LEGACY_TABLES = (
    "etl.raw_events",
    "etl.stores",
    "etl.products",
    "etl.orders",
    "etl.sales",
    "etl.rejected_events",
    "utilities.processed_files",
)
#: The legacy seed, COPYed without ids (the serials number it from 1): 5 stores, 5 products, 20 orders, 200 sales.
SEED_STORES = 5
SEED_PRODUCTS = 5
SEED_ORDERS = 20
SEED_SALES = 200
#: Seed product 1 costs 10.00: the drop story's sales all use it.
PRICE = 10.0
STAMP = legacy_files.LEGACY_FORMAT


@dataclass
class LegacyBatch:
    """One legacy run: its file's rows (event type, payload) and when it was created."""

    run_id: str
    created_at: datetime
    events: list[tuple[str, dict]] = field(default_factory=list)

    @property
    def filename(self) -> str:
        return f"{self.run_id}.csv"


@dataclass
class LegacyHistory:
    """What `fill_legacy_database` wrote."""

    as_of: date
    batches: list[LegacyBatch]
    steady_store_id: int
    dropping_store_id: int
    seed_rows: dict[str, int]
    #: rows per table, keyed like AdoptionReport.rows_before ("etl.stores", ...)
    counts: dict[str, int] = field(default_factory=dict)


def create_legacy_schema(conn: psycopg2.extensions.connection) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(LEGACY_DDL)


def fill_legacy_database(
    conn: psycopg2.extensions.connection, as_of: date, days: int = 10, seed: int = 11
) -> LegacyHistory:
    """Seed by COPY, then one legacy batch per day from `as_of - days + 1` to `as_of` (see the module doc)."""
    rng = random.Random(seed)
    with conn, conn.cursor() as cur:
        _copy_seed(cur, rng)
        steady_store_id = 1  # a seed store
        batches = []
        dropping_store_id = 0
        for n in range(days):
            day = as_of - timedelta(days=days - 1 - n)
            batch = LegacyBatch(
                f"scheduled__{day.isoformat()}T09:20:00+00:00", datetime.combine(day, time(9, 20))
            )
            ids = _load_batch(cur, rng, batch, day, steady_store_id, dropping_store_id, last=day == as_of)
            dropping_store_id = dropping_store_id or ids["stores"][0]  # the first batch's first store
            batches.append(batch)
        # A legacy insert that failed and rolled back consumed a product id: the sequence is ahead of max(id).
        cur.execute("SAVEPOINT failed_insert")
        cur.execute("INSERT INTO etl.products (name, price) VALUES ('rolled back', 1)")
        cur.execute("ROLLBACK TO SAVEPOINT failed_insert")
        history = LegacyHistory(
            as_of=as_of,
            batches=batches,
            steady_store_id=steady_store_id,
            dropping_store_id=dropping_store_id,
            seed_rows={
                "stores": SEED_STORES,
                "products": SEED_PRODUCTS,
                "orders": SEED_ORDERS,
                "sales": SEED_SALES,
            },
        )
        for table in LEGACY_TABLES:
            history.counts[table] = _count(cur, table)
    return history


def _count(cur: psycopg2.extensions.cursor, table: str) -> int:
    cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*table.split("."))))
    return cur.fetchone()[0]


def _copy(cur: psycopg2.extensions.cursor, statement: str, rows: list[tuple]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["header"] * len(rows[0]))
    writer.writerows(rows)
    buffer.seek(0)
    cur.copy_expert(statement, buffer)


def _copy_seed(cur: psycopg2.extensions.cursor, rng: random.Random) -> None:
    """The four seed CSV files, loaded by COPY ... CSV HEADER without ids (dated 2023-2024)."""
    start = datetime(2023, 1, 1)

    def when() -> str:
        return (start + timedelta(minutes=rng.randrange(2 * 365 * 24 * 60))).strftime(STAMP)

    stores = [(when(), f"Seed{n}", 100_000_000_000 + n, "active") for n in range(1, SEED_STORES + 1)]
    _copy(cur, "COPY etl.stores (created_at, name, tax_id, status) FROM STDIN CSV HEADER", stores)
    products = [
        (when(), f"Item{n}", PRICE if n == 1 else rng.randint(100, 50_000) / 100) for n in range(1, 6)
    ]
    _copy(cur, "COPY etl.products (created_at, name, price) FROM STDIN CSV HEADER", products)
    orders = [(when(), rng.randint(1, 10_001)) for _ in range(SEED_ORDERS)]
    _copy(cur, "COPY etl.orders (created_at, user_id) FROM STDIN CSV HEADER", orders)
    sales = [
        (
            rng.randint(1, SEED_ORDERS),
            rng.randint(1, SEED_STORES),
            rng.randint(1, SEED_PRODUCTS),
            rng.randint(1, 10),
            when(),
        )
        for _ in range(SEED_SALES)
    ]
    _copy(
        cur,
        "COPY etl.sales (order_id, store_id, product_id, quantity, sale_date) FROM STDIN CSV HEADER",
        sales,
    )


def _raw_event(cur: psycopg2.extensions.cursor, batch: LegacyBatch, event_type: str, payload: dict) -> int:
    batch.events.append((event_type, payload))
    cur.execute(
        "INSERT INTO etl.raw_events (batch_id, event_type, payload, batch_created_at) "
        "VALUES (%s, %s, %s, %s) RETURNING raw_id",
        (batch.run_id, event_type, json.dumps(payload), batch.created_at),
    )
    return cur.fetchone()[0]


def _load_batch(
    cur: psycopg2.extensions.cursor,
    rng: random.Random,
    batch: LegacyBatch,
    day: date,
    steady_store_id: int,
    dropping_store_id: int,
    last: bool,
) -> dict[str, list[int]]:
    """One legacy run: raw events, then the typed rows with their serial ids; one rejected sale."""
    created = batch.created_at - timedelta(minutes=rng.randint(1, 30))
    head = (batch.run_id, batch.created_at)
    ids: dict[str, list[int]] = {"stores": [], "products": [], "orders": []}
    for n in range(2):
        payload = {
            "created_at": created.strftime(STAMP),
            "name": "".join(rng.choice("abcdefghij") for _ in range(rng.randint(5, 10))),
            "tax_id": rng.randint(10**11, 10**12),
            "status": "active",
        }
        raw_id = _raw_event(cur, batch, "store_event", payload)
        cur.execute(
            "INSERT INTO etl.stores (raw_id, batch_id, batch_created_at, created_at, name, tax_id, status) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (raw_id, *head, created, payload["name"], payload["tax_id"], payload["status"]),
        )
        ids["stores"].append(cur.fetchone()[0])
        payload = {
            "created_at": created.strftime(STAMP),
            "name": f"P{n}",
            "price": round(rng.uniform(1, 500), 2),
        }
        raw_id = _raw_event(cur, batch, "product_event", payload)
        cur.execute(
            "INSERT INTO etl.products (raw_id, batch_id, batch_created_at, created_at, name, price) "
            "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (raw_id, *head, created, payload["name"], payload["price"]),
        )
        ids["products"].append(cur.fetchone()[0])
    for _ in range(10):
        payload = {"created_at": created.strftime(STAMP), "user_id": rng.randint(1, 10_001)}
        raw_id = _raw_event(cur, batch, "order_event", payload)
        cur.execute(
            "INSERT INTO etl.orders (raw_id, batch_id, batch_created_at, created_at, user_id) "
            "VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (raw_id, *head, created, payload["user_id"]),
        )
        ids["orders"].append(cur.fetchone()[0])
    # 5 sales of 2 items at 10.00 per store and day; the dropping store (from the second day on) sells 1 on the last
    sales = [steady_store_id] * 5
    if dropping_store_id:
        sales += [dropping_store_id] * (1 if last else 5)
    for store_id in sales:
        sold = datetime.combine(day, time()) + timedelta(minutes=rng.randrange(24 * 60))
        payload = {
            "sale_date": sold.strftime(STAMP),
            "order_id": rng.choice(ids["orders"]),
            "store_id": store_id,
            "product_id": 1,
            "quantity": 2,
        }
        raw_id = _raw_event(cur, batch, "sales_event", payload)
        cur.execute(
            "INSERT INTO etl.sales (raw_id, batch_id, batch_created_at, order_id, store_id, product_id, quantity, "
            "sale_date) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (raw_id, *head, payload["order_id"], store_id, 1, 2, sold),
        )
    bad = {"sale_date": created.strftime(STAMP), "order_id": ids["orders"][0], "store_id": 1, "product_id": 1}
    bad["quantity"] = 0
    raw_id = _raw_event(cur, batch, "sales_event", bad)
    cur.execute(
        "INSERT INTO etl.rejected_events (raw_id, batch_id, batch_created_at, rejection_reason, payload, rejected_at) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (
            raw_id,
            *head,
            "quantity must be positive",
            json.dumps(bad),
            batch.created_at + timedelta(minutes=2),
        ),
    )
    cur.execute(
        "INSERT INTO utilities.processed_files (filename, loaded_at) VALUES (%s, %s)",
        (batch.filename, batch.created_at + timedelta(minutes=2)),
    )
    return ids


def write_legacy_file(directory: Path, batch: LegacyBatch) -> Path:
    """The batch's file as the legacy generator writes it (QUOTE_ALL, backslash escapechar, json.dumps)."""
    return legacy_files.write_legacy_file(directory, batch.run_id, batch.created_at, batch.events)
