"""Batch files for tests, benchmarks and scripts: a generated valid batch, and raw rows written field by field."""

import json
import random
from datetime import datetime
from pathlib import Path

from faker import Faker

from etl_project.generator.events import BatchShape, Catalog, SequentialIds, generate_events, write_batch_file
from etl_project.schemas import BATCH_FILE_COLUMNS

CREATED_AT = datetime(2025, 4, 20, 9, 20)
TABLES = ("raw_events", "stores", "products", "orders", "sales", "rejected_events")


def write_generated_batch(
    directory: Path, batch_id: str, seed: int = 1, shape: BatchShape | None = None
) -> Path:
    """A valid batch from the project's own generator, with a fixed seed."""
    fake = Faker()
    fake.seed_instance(seed)
    events = generate_events(
        fake=fake,
        rng=random.Random(seed),
        ids=SequentialIds({"stores": seed * 1000, "products": seed * 1000, "orders": seed * 1000}),
        catalog=Catalog(),
        created_at=CREATED_AT,
        shape=shape,
    )
    # replace=True: tests stand for a person replacing a file; generators never overwrite one
    return write_batch_file(directory, batch_id, CREATED_AT, events, replace=True)


def quote(value: str) -> str:
    """One field as the legacy writer quotes it (quotes doubled, backslashes escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '""') + '"'


def entity_rows(batch_id: str, created: str) -> list[tuple[str, str, str, str]]:
    """Raw rows of store 1, product 2 and order 3: what a sale `{"store_id": 1, "product_id": 2, "order_id": 3}`
    references."""
    payloads = [
        ("store_event", {"id": 1, "created_at": created, "name": "S", "tax_id": 1, "status": "active"}),
        ("product_event", {"id": 2, "created_at": created, "name": "P", "price": 3}),
        ("order_event", {"id": 3, "created_at": created, "user_id": 1}),
    ]
    return [(batch_id, event_type, json.dumps(payload), created) for event_type, payload in payloads]


def write_raw_batch(
    directory: Path, batch_id: str, rows: list[tuple[str, ...]], header=BATCH_FILE_COLUMNS
) -> Path:
    """A batch file written field by field, for rows the generator would never produce."""
    lines = [",".join(quote(h) for h in header)]
    lines += [",".join(quote(v) for v in row) for row in rows]
    path = directory / f"{batch_id}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
