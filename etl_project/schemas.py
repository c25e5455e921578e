"""The one declaration of the batch file format and the event schemas.

Everything else derives from here: the four event assets, their table columns, the SQL that validates and
loads each event type, and the generator's payloads. Adding a field or an event type starts in this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

#: Columns of a batch file, in the order the legacy pipeline writes them.
BATCH_FILE_COLUMNS: tuple[str, ...] = ("batch_id", "event_type", "payload", "batch_created_at")

#: Format of ``batch_created_at`` (naive timestamp, as the legacy pipeline writes it).
BATCH_CREATED_AT_FORMAT = "%Y-%m-%d %H:%M:%S"


class FieldType(Enum):
    """JSON payload field types and the PostgreSQL column type each one loads into."""

    TEXT = "text"
    INTEGER = "bigint"
    DECIMAL = "numeric(14,2)"
    TIMESTAMP = "timestamptz"


@dataclass(frozen=True)
class PayloadField:
    """One field of an event payload and the rules a value must satisfy to be loaded."""

    name: str
    type: FieldType
    required: bool = True
    allowed_values: tuple[str, ...] | None = None
    must_be_positive: bool = False
    references: str | None = None  # table whose ``id`` this field must match

    @property
    def description(self) -> str:
        rules = [self.type.name.lower()]
        if not self.required:
            rules.append("optional")
        if self.allowed_values:
            rules.append("one of " + "/".join(self.allowed_values))
        if self.must_be_positive:
            rules.append("> 0")
        if self.references:
            rules.append(f"id of a row in etl.{self.references}")
        return ", ".join(rules)


@dataclass(frozen=True)
class EventSchema:
    """An event type, the table it loads into, and its payload fields (in column order)."""

    event_type: str
    table: str
    description: str
    fields: tuple[PayloadField, ...]
    #: Entity tables take ``id`` from the payload when present, otherwise the table's next id.
    #: Other tables always number their own rows.
    is_entity: bool = True

    @property
    def references(self) -> tuple[str, ...]:
        return tuple(f.references for f in self.fields if f.references)


STORE_STATUSES = ("active", "closed", "test")

STORE_EVENT = EventSchema(
    event_type="store_event",
    table="stores",
    description="Stores, one row per valid store_event. Closed and test stores are kept but never alerted on.",
    fields=(
        PayloadField("created_at", FieldType.TIMESTAMP),
        PayloadField("name", FieldType.TEXT),
        PayloadField("tax_id", FieldType.INTEGER),
        PayloadField("status", FieldType.TEXT, allowed_values=STORE_STATUSES),
    ),
)

PRODUCT_EVENT = EventSchema(
    event_type="product_event",
    table="products",
    description="Products and their prices, one row per valid product_event.",
    fields=(
        PayloadField("created_at", FieldType.TIMESTAMP),
        PayloadField("name", FieldType.TEXT),
        PayloadField("price", FieldType.DECIMAL),
    ),
)

ORDER_EVENT = EventSchema(
    event_type="order_event",
    table="orders",
    description="Orders, one row per valid order_event.",
    fields=(
        PayloadField("created_at", FieldType.TIMESTAMP),
        PayloadField("user_id", FieldType.INTEGER),
    ),
)

SALES_EVENT = EventSchema(
    event_type="sales_event",
    table="sales",
    description=(
        "Sales lines, one row per valid sales_event whose order, store and product exist "
        "(loaded earlier or in the same batch)."
    ),
    fields=(
        PayloadField("order_id", FieldType.INTEGER, references="orders"),
        PayloadField("store_id", FieldType.INTEGER, references="stores"),
        PayloadField("product_id", FieldType.INTEGER, references="products"),
        PayloadField("quantity", FieldType.INTEGER, must_be_positive=True),
        # A timestamp, as the legacy pipeline writes it: the time of day is kept; its day in ETL_TIMEZONE is
        # the day the analytics count it on.
        PayloadField("sale_date", FieldType.TIMESTAMP),
    ),
    is_entity=False,
)

#: All event types in load order: a table is loaded after every table it references.
EVENT_SCHEMAS: tuple[EventSchema, ...] = (STORE_EVENT, PRODUCT_EVENT, ORDER_EVENT, SALES_EVENT)

EVENT_SCHEMAS_BY_TYPE: dict[str, EventSchema] = {s.event_type: s for s in EVENT_SCHEMAS}


def _check_load_order() -> None:
    loaded: set[str] = set()
    for schema in EVENT_SCHEMAS:
        missing = set(schema.references) - loaded
        assert not missing, f"{schema.table} is declared before the tables it references: {missing}"
        loaded.add(schema.table)


_check_load_order()


#: Substrings Dagster refuses in a partition key; a file whose name holds one is reported, not loaded.
_FORBIDDEN_IN_KEYS = ("...", "\a", "\b", "\f", "\n", "\r", "\t", "\v", "\0")


def invalid_batch_id_reason(batch_id: str) -> str | None:
    """Why `batch_id` cannot be a partition key (and a file name inside the shared directory), or None."""
    if not batch_id.strip():
        return "the batch id is empty"
    if "/" in batch_id or "\\" in batch_id or batch_id in {".", ".."}:
        return "the batch id contains a path separator"
    if any(s in batch_id for s in _FORBIDDEN_IN_KEYS):
        return "the batch id contains '...' or control characters, which Dagster partition keys cannot hold"
    if len(batch_id) > 200:
        return "the batch id is longer than 200 characters"
    return None
