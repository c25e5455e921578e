"""generate_batch_job: the generator as a Dagster job, one realistic batch per run, the run id as the batch id.

The events themselves come from `etl_project/generator/events.py` (no Dagster there; `etl generate` uses it too).
"""

import random
from datetime import datetime, timezone

import dagster as dg
import psycopg2.extensions
from faker import Faker

from etl_project.generator.events import Catalog, generate_events, write_batch_file
from etl_project.resources import EtlDatabase, SharedDirectory

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


class GeneratorConfig(dg.Config):
    seed: int | None = None


@dg.op(description="Writes one batch file of realistic events into the shared directory.")
def write_generated_batch(
    context: dg.OpExecutionContext,
    config: GeneratorConfig,
    etl_database: EtlDatabase,
    shared_directory: SharedDirectory,
) -> None:
    batch_id = context.run_id
    rng = random.Random(config.seed)
    fake = Faker()
    if config.seed is not None:
        fake.seed_instance(config.seed)
    created_at = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    with etl_database.connect() as conn:
        with conn:
            catalog = load_catalog(conn)
            events = list(
                generate_events(
                    fake=fake, rng=rng, ids=DatabaseIds(conn), catalog=catalog, created_at=created_at
                )
            )
    path = write_batch_file(shared_directory.root, batch_id, created_at, events)
    context.log.info(f"Wrote {len(events)} events to {path.name}")


@dg.job(
    description="Generates one batch file; the batch id is this run's id.",
    executor_def=dg.in_process_executor,
)
def generate_batch_job() -> None:
    write_generated_batch()
