"""What a generated batch takes from the ETL database: ids reserved from the tables' own sequences, and the
stores and products already loaded for its sales to reference. Used by the scheduled generator and `etl generate`.
"""

import psycopg2.extensions

from etl_project.generator.events import Catalog

#: How many recent active stores / products a new batch's sales may reference.
CATALOG_SIZE = 200


class DatabaseIds:
    """Reserves ids from the event tables' own id sequences, so generated ids never collide with loaded ones."""

    def __init__(self, conn: psycopg2.extensions.connection):
        self._conn = conn

    def reserve(self, table: str, count: int) -> list[int]:
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                (f"etl.{table}", count),
            )
            return [row[0] for row in cur.fetchall()]


def load_catalog(conn: psycopg2.extensions.connection) -> Catalog:
    """The most recent active stores and products already loaded, for sales to reference."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT id FROM etl.stores WHERE status = 'active' ORDER BY id DESC LIMIT %s", (CATALOG_SIZE,)
        )
        stores = [row[0] for row in cur.fetchall()]
        cur.execute("SELECT id, price FROM etl.products ORDER BY id DESC LIMIT %s", (CATALOG_SIZE,))
        prices = dict(cur.fetchall())
    return Catalog(active_store_ids=stores, product_prices=prices)
