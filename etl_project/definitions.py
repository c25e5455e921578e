"""The code location: every asset, check, job, schedule, sensor and resource of the platform."""

import os

import dagster as dg

from etl_project.assets.ingestion import batch_event_tables, load_batches_job
from etl_project.generator.job import generate_batch_job, generate_batch_schedule
from etl_project.resources import EtlDatabase, SharedDirectory
from etl_project.sensors.batch_file_sensor import batch_file_sensor


def _from_env(name: str) -> dg.EnvVar | None:
    """`EnvVar(name)` when the variable is set, so unset variables fall back to the resource's default."""
    return dg.EnvVar(name) if os.getenv(name) else None


def build_resources() -> dict[str, dg.ConfigurableResource]:
    """Resources configured from the environment (ETL_DATABASE_URL, ETL_SHARED_DATA_DIR, ...)."""
    shared = {
        "path": _from_env("ETL_SHARED_DATA_DIR"),
        "settle_seconds": _from_env("ETL_FILE_SETTLE_SECONDS"),
    }
    return {
        "etl_database": EtlDatabase(url=_from_env("ETL_DATABASE_URL")),
        "shared_directory": SharedDirectory(**{k: v for k, v in shared.items() if v is not None}),
    }


defs = dg.Definitions(
    assets=[batch_event_tables],
    jobs=[load_batches_job, generate_batch_job],
    schedules=[generate_batch_schedule],
    sensors=[batch_file_sensor],
    resources=build_resources(),
)
