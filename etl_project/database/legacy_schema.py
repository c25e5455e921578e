"""The legacy pipeline's tables and the statements that give each one the shape 0001_initial_schema.sql creates.

Declarations only, read by `legacy_adoption` (which runs them in one transaction, in this order: ALTER, FILL,
FINISH per table, then the identities). Identifiers and SQL here come from this module, never from a database.
"""

from __future__ import annotations

INITIAL_MIGRATION = "0001_initial_schema.sql"
#: batch_id given to the rows the legacy seed loaded by COPY, which belong to no batch.
SEED_BATCH_ID = "legacy_seed"
#: The legacy tables, in the order they are converted (raw_events before rejected_events, which reads it).
TABLES = (
    ("etl", "raw_events"),
    ("etl", "stores"),
    ("etl", "products"),
    ("etl", "orders"),
    ("etl", "sales"),
    ("etl", "rejected_events"),
    ("utilities", "processed_files"),
)
SCHEMA_OF = {table: schema for schema, table in TABLES}
#: Event tables and the legacy column the seed's batch_created_at is taken from.
SEED_TIME_COLUMNS = {
    "stores": "created_at",
    "products": "created_at",
    "orders": "created_at",
    "sales": "sale_date",
}
_LOCAL = "AT TIME ZONE current_setting('TimeZone')"

#: Column changes per table, one ALTER TABLE each (one rewrite per table). Keys and identities come after.
COLUMN_CHANGES = {
    "raw_events": """
        ALTER COLUMN raw_id DROP DEFAULT, ALTER COLUMN raw_id TYPE bigint, ALTER COLUMN raw_id SET NOT NULL,
        ALTER COLUMN batch_id SET NOT NULL, ALTER COLUMN event_type SET NOT NULL,
        ALTER COLUMN payload SET NOT NULL, ALTER COLUMN batch_created_at SET NOT NULL,
        ADD COLUMN file_row integer""",
    "stores": f"""
        ALTER COLUMN raw_id TYPE bigint, ALTER COLUMN raw_id SET NOT NULL, ALTER COLUMN batch_id SET NOT NULL,
        ALTER COLUMN batch_created_at SET NOT NULL,
        ALTER COLUMN id DROP DEFAULT, ALTER COLUMN id TYPE bigint, ALTER COLUMN id SET NOT NULL,
        ALTER COLUMN created_at TYPE timestamptz USING created_at {_LOCAL}, ALTER COLUMN created_at SET NOT NULL,
        ALTER COLUMN name SET NOT NULL, ALTER COLUMN tax_id TYPE bigint, ALTER COLUMN tax_id SET NOT NULL,
        ALTER COLUMN status SET NOT NULL""",
    "products": f"""
        ALTER COLUMN raw_id TYPE bigint, ALTER COLUMN raw_id SET NOT NULL, ALTER COLUMN batch_id SET NOT NULL,
        ALTER COLUMN batch_created_at SET NOT NULL,
        ALTER COLUMN id DROP DEFAULT, ALTER COLUMN id TYPE bigint, ALTER COLUMN id SET NOT NULL,
        ALTER COLUMN created_at TYPE timestamptz USING created_at {_LOCAL}, ALTER COLUMN created_at SET NOT NULL,
        ALTER COLUMN name SET NOT NULL, ALTER COLUMN price TYPE numeric(14,2), ALTER COLUMN price SET NOT NULL""",
    "orders": f"""
        ALTER COLUMN raw_id TYPE bigint, ALTER COLUMN raw_id SET NOT NULL, ALTER COLUMN batch_id SET NOT NULL,
        ALTER COLUMN batch_created_at SET NOT NULL,
        ALTER COLUMN id DROP DEFAULT, ALTER COLUMN id TYPE bigint, ALTER COLUMN id SET NOT NULL,
        ALTER COLUMN created_at TYPE timestamptz USING created_at {_LOCAL}, ALTER COLUMN created_at SET NOT NULL,
        ALTER COLUMN user_id TYPE bigint, ALTER COLUMN user_id SET NOT NULL""",
    "sales": f"""
        ALTER COLUMN raw_id TYPE bigint, ALTER COLUMN raw_id SET NOT NULL, ALTER COLUMN batch_id SET NOT NULL,
        ALTER COLUMN batch_created_at SET NOT NULL,
        ALTER COLUMN id DROP DEFAULT, ALTER COLUMN id TYPE bigint, ALTER COLUMN id SET NOT NULL,
        ALTER COLUMN order_id TYPE bigint, ALTER COLUMN order_id SET NOT NULL,
        ALTER COLUMN store_id TYPE bigint, ALTER COLUMN store_id SET NOT NULL,
        ALTER COLUMN product_id TYPE bigint, ALTER COLUMN product_id SET NOT NULL,
        ALTER COLUMN quantity TYPE bigint, ALTER COLUMN quantity SET NOT NULL,
        ALTER COLUMN sale_date TYPE timestamptz USING sale_date {_LOCAL}, ALTER COLUMN sale_date SET NOT NULL""",
    "rejected_events": f"""
        ALTER COLUMN raw_id TYPE bigint, ALTER COLUMN raw_id DROP NOT NULL,
        ALTER COLUMN rejection_reason SET NOT NULL, ALTER COLUMN payload TYPE text USING payload::text,
        ALTER COLUMN rejected_at DROP DEFAULT,
        ALTER COLUMN rejected_at TYPE timestamptz USING rejected_at {_LOCAL},
        ALTER COLUMN rejected_at SET DEFAULT now(), ALTER COLUMN rejected_at SET NOT NULL,
        ADD COLUMN event_type text, ADD COLUMN file_row integer, ADD COLUMN reject_id bigint""",
    "processed_files": f"""
        ALTER COLUMN id DROP DEFAULT, ALTER COLUMN id TYPE bigint, ALTER COLUMN id SET NOT NULL,
        ALTER COLUMN filename SET NOT NULL, ALTER COLUMN loaded_at DROP DEFAULT,
        ALTER COLUMN loaded_at TYPE timestamptz USING loaded_at {_LOCAL},
        ALTER COLUMN loaded_at SET DEFAULT now(), ALTER COLUMN loaded_at SET NOT NULL,
        ADD COLUMN batch_id text, ADD COLUMN status text, ADD COLUMN checksum_sha256 text,
        ADD COLUMN size_bytes bigint, ADD COLUMN rows_read bigint, ADD COLUMN rows_loaded bigint,
        ADD COLUMN rows_rejected bigint, ADD COLUMN error text""",
}

#: Data filled in after the column changes, before the NOT NULL constraints of the new columns.
NEW_COLUMN_VALUES = {
    "raw_events": """
        UPDATE etl.raw_events r SET file_row = n.file_row
        FROM (SELECT raw_id, row_number() OVER (PARTITION BY batch_id ORDER BY raw_id) AS file_row
              FROM etl.raw_events) n
        WHERE n.raw_id = r.raw_id""",
    # raw_id is still the legacy primary key's column here: unique, so it identifies the row.
    "rejected_events": """
        UPDATE etl.rejected_events j
        SET reject_id = n.reject_id, event_type = n.event_type, file_row = coalesce(n.file_row, 0),
            batch_id = coalesce(j.batch_id, n.raw_batch_id)
        FROM (SELECT j2.raw_id, row_number() OVER (ORDER BY j2.rejected_at, j2.raw_id) AS reject_id,
                     r.event_type, r.file_row, r.batch_id AS raw_batch_id
              FROM etl.rejected_events j2 LEFT JOIN etl.raw_events r ON r.raw_id = j2.raw_id) n
        WHERE n.raw_id = j.raw_id""",
    "processed_files": """
        UPDATE utilities.processed_files
        SET batch_id = CASE WHEN right(filename, 4) = '.csv' THEN left(filename, -4) ELSE filename END,
            status = 'loaded'""",
}

#: Keys, constraints and indexes exactly as 0001_initial_schema.sql creates them (same default names).
KEYS_AND_INDEXES = {
    "raw_events": [
        "ALTER TABLE etl.raw_events ALTER COLUMN file_row SET NOT NULL, ADD PRIMARY KEY (raw_id)",
        "CREATE INDEX raw_events_batch_idx ON etl.raw_events (batch_id, event_type)",
    ],
    "stores": [
        "ALTER TABLE etl.stores ADD PRIMARY KEY (id)",
        "CREATE INDEX stores_batch_idx ON etl.stores (batch_id)",
    ],
    "products": [
        "ALTER TABLE etl.products ADD PRIMARY KEY (id)",
        "CREATE INDEX products_batch_idx ON etl.products (batch_id)",
    ],
    "orders": [
        "ALTER TABLE etl.orders ADD PRIMARY KEY (id)",
        "CREATE INDEX orders_batch_idx ON etl.orders (batch_id)",
    ],
    "sales": [
        "ALTER TABLE etl.sales ADD PRIMARY KEY (id)",
        "CREATE INDEX sales_batch_idx ON etl.sales (batch_id)",
        "CREATE INDEX sales_store_date_idx ON etl.sales (store_id, sale_date)",
    ],
    "rejected_events": [
        "ALTER TABLE etl.rejected_events ALTER COLUMN batch_id SET NOT NULL, ALTER COLUMN file_row SET NOT NULL, "
        "ALTER COLUMN reject_id SET NOT NULL, ADD PRIMARY KEY (reject_id)",
        "CREATE INDEX rejected_events_batch_idx ON etl.rejected_events (batch_id)",
    ],
    "processed_files": [
        "ALTER TABLE utilities.processed_files ALTER COLUMN batch_id SET NOT NULL, "
        "ALTER COLUMN status SET NOT NULL, ADD PRIMARY KEY (id), ADD UNIQUE (filename), "
        "ADD CHECK (status IN ('loaded', 'quarantined'))",
    ],
}

#: (table, id column, identity kind) of the identities to create; each continues the legacy numbering.
IDENTITIES = (
    ("raw_events", "raw_id", "ALWAYS"),
    ("stores", "id", "BY DEFAULT"),
    ("products", "id", "BY DEFAULT"),
    ("orders", "id", "BY DEFAULT"),
    ("sales", "id", "BY DEFAULT"),
    ("rejected_events", "reject_id", "ALWAYS"),
    ("processed_files", "id", "ALWAYS"),
)
