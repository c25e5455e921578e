"""Which batches have a record in utilities.processed_files (loaded, quarantined or dropped): the stranded-batch
sweep compares them with the registered partitions. One query of one column, about 0.1 s at 100k files."""

from __future__ import annotations

import psycopg2.extensions


def recorded_batch_ids(conn: psycopg2.extensions.connection) -> set[str]:
    """Every batch id the ledger holds, whatever its status."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT DISTINCT batch_id FROM utilities.processed_files")
        return {row[0] for row in cur.fetchall()}
