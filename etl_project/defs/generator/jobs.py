"""generate_batch_job: the generator as a Dagster job, one realistic batch per run.

The events come from `etl_project/generator/events.py` and the ids from the database's own sequences
(`etl_project/generator/from_database.py`); `etl generate` uses both too.
"""

import os
import random
from collections import Counter
from datetime import datetime, timezone

import dagster as dg
from faker import Faker
from pydantic import Field

from etl_project.generator.batch_ids import SCHEDULED_PREFIX, readable_batch_id
from etl_project.generator.events import generate_events
from etl_project.generator.from_database import DatabaseIds, load_catalog
from etl_project.generator.taken_batch_ids import refuse_taken_batch_id
from etl_project.resources import EtlDatabase, SharedDirectory


class GeneratorConfig(dg.Config):
    batch_id: str | None = Field(
        default=None,
        description="Id (and file name) of the batch; default generated__<the run's start, UTC>. An id whose "
        "file exists or that is already a batch in the ledger is refused.",
    )
    seed: int | None = Field(
        default=None, description="Seed of the random events; default: different each run."
    )


@dg.op(description="Writes one batch file of realistic events into the shared directory (or the bucket).")
def write_generated_batch(
    context: dg.OpExecutionContext,
    config: GeneratorConfig,
    etl_database: EtlDatabase,
    shared_directory: SharedDirectory,
) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    batch_id = config.batch_id or readable_batch_id(SCHEDULED_PREFIX, now)
    rng = random.Random(config.seed)
    fake = Faker()
    if config.seed is not None:
        fake.seed_instance(config.seed)
    created_at = now.replace(tzinfo=None)
    source = shared_directory.source()
    with etl_database.connect() as conn:
        with conn:
            refuse_taken_batch_id(conn, source, batch_id)  # never a real batch's id
            catalog = load_catalog(conn)
            events = list(
                generate_events(
                    fake=fake, rng=rng, ids=DatabaseIds(conn), catalog=catalog, created_at=created_at
                )
            )
    written = source.write_batch(batch_id, created_at, events)
    counts = Counter(e.event_type for e in events)
    context.log.info(
        f"Wrote {len(events)} events to {written.rsplit('/', 1)[-1]}: "
        + ", ".join(f"{n} {t}" for t, n in sorted(counts.items()))
    )


@dg.job(
    description="Writes one batch file of realistic sample events (stores, products, orders, sales of "
    "stores already loaded) into the shared directory, where batch_file_sensor picks it up. The batch id is "
    "generated__<time> (UTC).",
    executor_def=dg.in_process_executor,
)
def generate_batch_job() -> None:
    write_generated_batch()


def generator_enabled() -> bool:
    """ETL_GENERATOR_ENABLED (default true): whether the code location has the generator at all."""
    return os.getenv("ETL_GENERATOR_ENABLED", "true").lower() not in {"0", "false", "no"}


@dg.definitions
def generator_job_definitions() -> dg.Definitions:
    """The job only where the generator is enabled: a production deployment (ETL_GENERATOR_ENABLED=false) has
    no job that writes invented batches into the shared directory, not even one to launch by hand."""
    return dg.Definitions(jobs=[generate_batch_job] if generator_enabled() else [])
