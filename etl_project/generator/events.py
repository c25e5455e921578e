"""Realistic event batches written in the legacy batch file format.

A batch creates a few stores and products, some orders, and sales lines of those orders that reference stores
and products that exist (created earlier or in the same batch). Entity ids are written into the payload so a
batch is reproducible; they come from an `IdAllocator` so that they never collide with ids already loaded.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from pathlib import Path
from typing import Protocol, TextIO

from faker import Faker

from etl_project.schemas import (
    BATCH_CREATED_AT_FORMAT,
    BATCH_FILE_COLUMNS,
    ORDER_EVENT,
    PRODUCT_EVENT,
    SALES_EVENT,
    STORE_EVENT,
)

#: The file is written under this suffix and renamed when complete; the sensor ignores it.
PARTIAL_SUFFIX = ".partial"


class IdAllocator(Protocol):
    """Hands out ids for new entities of a table."""

    def reserve(self, table: str, count: int) -> list[int]: ...


@dataclass
class SequentialIds:
    """Ids counted in memory: for files generated without a database (history, benchmarks)."""

    next_ids: dict[str, int] = field(default_factory=dict)

    def reserve(self, table: str, count: int) -> list[int]:
        start = self.next_ids.get(table, 1)
        self.next_ids[table] = start + count
        return list(range(start, start + count))


@dataclass
class Catalog:
    """Stores and products that exist, which sales may reference, with each product's price."""

    active_store_ids: list[int] = field(default_factory=list)
    product_prices: dict[int, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    event_type: str
    payload: dict[str, object]


@dataclass
class BatchShape:
    """How many events of each type a batch holds (the legacy generator's typical batch by default)."""

    stores: int = 2
    products: int = 2
    orders: int = 10
    sales: tuple[int, int] = (30, 50)


def _timestamp(moment: datetime) -> str:
    return moment.strftime(BATCH_CREATED_AT_FORMAT)


def generate_events(
    *,
    fake: Faker,
    rng: random.Random,
    ids: IdAllocator,
    catalog: Catalog,
    created_at: datetime,
    shape: BatchShape | None = None,
    sale_date: date | None = None,
    store_weights: dict[int, float] | None = None,
) -> Iterator[Event]:
    """Yield one batch's events: new stores and products first, then orders, then their sales lines.

    `catalog` is updated with the new active stores and products. `store_weights` skews which stores sell
    (a weight of 0.5 halves a store's share), which is how histories with a sales drop are made.
    """
    shape = shape or BatchShape()
    for store_id in ids.reserve(STORE_EVENT.table, shape.stores):
        status = rng.choices(["active", "closed", "test"], weights=[90, 5, 5])[0]
        if status == "active":
            catalog.active_store_ids.append(store_id)
        yield Event(
            STORE_EVENT.event_type,
            {
                "id": store_id,
                "created_at": _timestamp(created_at),
                "name": fake.company(),
                "tax_id": rng.randint(10_000_000, 99_999_999),
                "status": status,
            },
        )
    for product_id in ids.reserve(PRODUCT_EVENT.table, shape.products):
        price = Decimal(rng.randint(99, 19_999)) / 100
        catalog.product_prices[product_id] = price
        yield Event(
            PRODUCT_EVENT.event_type,
            {
                "id": product_id,
                "created_at": _timestamp(created_at),
                "name": fake.catch_phrase(),
                "price": float(price),
            },
        )
    order_ids = ids.reserve(ORDER_EVENT.table, shape.orders)
    for order_id in order_ids:
        yield Event(
            ORDER_EVENT.event_type,
            {"id": order_id, "created_at": _timestamp(created_at), "user_id": rng.randint(1, 50_000)},
        )
    if not (catalog.active_store_ids and catalog.product_prices and order_ids):
        return
    stores = catalog.active_store_ids
    cumulative = list(accumulate((store_weights or {}).get(s, 1.0) for s in stores))
    product_ids = list(catalog.product_prices)
    # Written as the legacy generator writes it: a timestamp (the batch's time of day, on the sales' day).
    sold_at = _timestamp(datetime.combine(sale_date or created_at.date(), created_at.time()))
    for _ in range(rng.randint(*shape.sales)):
        yield Event(
            SALES_EVENT.event_type,
            {
                "sale_date": sold_at,
                "order_id": rng.choice(order_ids),
                "store_id": rng.choices(stores, cum_weights=cumulative)[0],
                "product_id": rng.choice(product_ids),
                "quantity": rng.randint(1, 5),
            },
        )


class BatchFileExistsError(FileExistsError):
    """A generator was asked for a batch whose file exists: it never overwrites one (that would replace a real
    batch's rows with invented ones)."""


def write_batch_file(
    directory: Path, batch_id: str, created_at: datetime, events: Iterable[Event], *, replace: bool = False
) -> Path:
    """Write `<batch_id>.csv` in the legacy format; complete files only ever appear under their final name.

    Every field is quoted and backslash is the escape character (quotes inside a field are written as `\\"`),
    which is also what PostgreSQL's `COPY ... CSV ESCAPE '\\'` reads. The temporary file is created with
    O_EXCL|O_NOFOLLOW (a symlink planted at its name is never followed) and published with a hard link, which
    fails rather than overwrite an existing batch file (`BatchFileExistsError`); `replace=True` (tests that
    stand for a person replacing a file) renames over it instead.
    """
    if "/" in batch_id or batch_id in {"", ".", ".."}:
        raise ValueError(f"batch id {batch_id!r} cannot name a file")
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{batch_id}.csv"
    partial = directory / f".{batch_id}.csv{PARTIAL_SUFFIX}"
    if not replace and os.path.lexists(final):
        raise BatchFileExistsError(_exists_message(final))
    with os.fdopen(_create_exclusively(partial), "w", encoding="utf-8", newline="") as out:
        write_batch_rows(out, batch_id, created_at, events)
        out.flush()
        os.fsync(out.fileno())
    if replace:
        os.replace(partial, final)
        return final
    try:
        os.link(partial, final, follow_symlinks=False)  # atomic, and never replaces an existing name
    except FileExistsError:
        raise BatchFileExistsError(_exists_message(final)) from None
    finally:
        os.unlink(partial)
    return final


def write_batch_rows(out: TextIO, batch_id: str, created_at: datetime, events: Iterable[Event]) -> None:
    """The batch in the legacy format (header, then a row per event), written to `out` (a file, or the body of
    a bucket's object)."""
    stamp = _timestamp(created_at)
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, escapechar="\\", doublequote=False, lineterminator="\n")
    writer.writerow(BATCH_FILE_COLUMNS)
    writer.writerows(
        (batch_id, e.event_type, json.dumps(e.payload, ensure_ascii=False), stamp) for e in events
    )


def _exists_message(final: Path) -> str:
    return f"{final.name} exists already in {final.parent}: a generator never overwrites a batch file; choose another batch id"


def _create_exclusively(partial: Path) -> int:
    """A new file at `partial`, never through a symlink: whatever a crashed writer (or anyone) left at that
    name is unlinked first (unlink removes a symlink itself, not its target), then O_CREAT|O_EXCL|O_NOFOLLOW."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(partial)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    return os.open(partial, flags, 0o644)


class _FirstIdsKept:
    """An `IdAllocator` that remembers the first ids it handed out per table."""

    def __init__(self, ids: IdAllocator):
        self._ids = ids
        self.first: dict[str, list[int]] = {}

    def reserve(self, table: str, count: int) -> list[int]:
        reserved = self._ids.reserve(table, count)
        self.first.setdefault(table, reserved)
        return reserved


def generate_history(
    directory: Path,
    *,
    end_date: date,
    days: int = 9,
    batches_per_day: int = 4,
    seed: int = 7,
    dropping_stores: dict[int, float] | None = None,
    ids: IdAllocator | None = None,
) -> list[Path]:
    """Write `days` days of batches ending on `end_date`, with stable stores and a sales drop on the last day.

    `dropping_stores` maps a store id to the share of its usual sales it keeps on the last day (by default
    the first store keeps 30%, a 70% drop, and the second nothing). `ids` defaults to ids from 1; give the
    database's (`DatabaseIds`) when the files go to a platform that also generates batches, so that the two
    never hand out the same id.
    """
    fake = Faker()
    fake.seed_instance(seed)
    rng = random.Random(seed)
    ids = _FirstIdsKept(ids or SequentialIds())
    catalog = Catalog()
    written: list[Path] = []
    for day_index in range(days):
        day = end_date - timedelta(days=days - 1 - day_index)
        last_day = day_index == days - 1
        for n in range(batches_per_day):
            created_at = datetime.combine(day, datetime.min.time()) + timedelta(hours=8 + 2 * n)
            first = day_index == 0 and n == 0
            shape = BatchShape(
                stores=6 if first else 0, products=8 if first else 0, orders=10, sales=(40, 50)
            )
            weights = None
            if last_day:
                first_stores = ids.first[STORE_EVENT.table]
                weights = (
                    {first_stores[0]: 0.3, first_stores[1]: 0.0}
                    if dropping_stores is None
                    else dropping_stores
                )
            batch_id = f"history__{day.isoformat()}_{n:02d}"
            events = list(
                generate_events(
                    fake=fake,
                    rng=rng,
                    ids=ids,
                    catalog=catalog,
                    created_at=created_at,
                    shape=shape,
                    store_weights=weights,
                )
            )
            written.append(write_batch_file(directory, batch_id, created_at, events))
    return written
