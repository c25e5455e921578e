"""Batch files written exactly the way the legacy Airflow pipeline's generator writes them.

What it does, as its code does it (shared/legacy-notes.md): one file `<run_id>.csv` per run, Python's csv writer
with QUOTE_ALL and `\\` as escape character, `json.dumps` payloads without ids (the database numbers rows), every
timestamp `datetime.now() - random minutes` as naive `%Y-%m-%d %H:%M:%S` (sale_date included), 2 stores,
2 products, 10 orders and up to 50 sales a file, the sales' ids sampled from the rows already in the tables.
"""

from __future__ import annotations

import csv
import json
import random
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import psycopg2.extensions

LEGACY_HEADER = ("batch_id", "event_type", "payload", "batch_created_at")
LEGACY_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass
class LegacyIds:
    """Ids a legacy run samples its sales from: what the tables held when it ran."""

    stores: list[int] = field(default_factory=list)
    products: list[int] = field(default_factory=list)
    orders: list[int] = field(default_factory=list)

    @classmethod
    def in_database(cls, conn: psycopg2.extensions.connection) -> LegacyIds:
        with conn.cursor() as cur:
            ids = []
            for table in ("stores", "products", "orders"):
                cur.execute(f"SELECT id FROM etl.{table} ORDER BY id")  # noqa: S608 (names from this list)
                ids.append([row[0] for row in cur.fetchall()])
        return cls(*ids)


def legacy_run_id(moment: datetime, kind: str = "scheduled") -> str:
    """An Airflow run id, as the legacy files are named: `scheduled__2025-04-20T09:20:00+00:00`."""
    return f"{kind}__{moment.strftime('%Y-%m-%dT%H:%M:%S')}+00:00"


def _ago(now: datetime, rng: random.Random) -> str:
    return (now - timedelta(minutes=rng.randint(0, 59))).strftime(LEGACY_FORMAT)


def legacy_events(
    rng: random.Random, now: datetime, ids: LegacyIds, sales: int | None = None
) -> list[tuple[str, dict]]:
    """One legacy run's events: 2 stores, 2 products, 10 orders, then up to 50 sales of existing rows."""
    events: list[tuple[str, dict]] = []
    for _ in range(2):
        name = "".join(rng.choices(string.ascii_letters, k=rng.randint(5, 10)))
        tax_id = rng.randint(10**11, 10**12 - 1)  # 12 digits
        events.append(
            (
                "store_event",
                {"created_at": _ago(now, rng), "name": name, "tax_id": tax_id, "status": "active"},
            )
        )
    for _ in range(2):
        name = "".join(rng.choices(string.ascii_letters, k=rng.randint(5, 10)))
        events.append(
            (
                "product_event",
                {"created_at": _ago(now, rng), "name": name, "price": round(rng.uniform(1, 500), 2)},
            )
        )
    for _ in range(10):
        events.append(("order_event", {"created_at": _ago(now, rng), "user_id": rng.randint(1, 10001)}))
    if ids.stores and ids.products and ids.orders:
        for _ in range(rng.randint(1, 50) if sales is None else sales):
            sale = {
                "sale_date": _ago(now, rng),
                "order_id": rng.choice(ids.orders),
                "store_id": rng.choice(ids.stores),
                "product_id": rng.choice(ids.products),
                "quantity": rng.randint(1, 10),
            }
            events.append(("sales_event", sale))
    return events


def write_legacy_file(directory: Path, run_id: str, now: datetime, events: list[tuple[str, dict]]) -> Path:
    """`<run_id>.csv` as the legacy writer writes it (straight to its final name)."""
    path = directory / f"{run_id}.csv"
    with open(path, "w", newline="") as file:
        writer = csv.writer(file, quoting=csv.QUOTE_ALL, escapechar="\\")
        writer.writerow(LEGACY_HEADER)
        created = now.strftime(LEGACY_FORMAT)
        for event_type, payload in events:
            writer.writerow([run_id, event_type, json.dumps(payload), created])
    return path
