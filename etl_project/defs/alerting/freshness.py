"""Silent ingestion is visible in the UI: a freshness check on each event asset fails when no batch was loaded
for ETL_INGESTION_MAX_SILENCE_MINUTES (default 120), and ingestion_freshness_sensor evaluates them when due.

Built with Dagster's `build_last_update_freshness_checks` (the last materialisation of any batch partition
counts). ingestion_silence_slack_sensor turns their results into messages. Dagster 1.13 marks these builders
superseded by `FreshnessPolicy`, whose result is a freshness state rather than an asset check: it would show
no failed check on the assets and give the sensor no evaluation to follow, so the checks stay (their
SupersessionWarning is silenced in definitions.py).
"""

import os
from datetime import timedelta

import dagster as dg

from etl_project.defs.ingestion.assets import RAW_EVENTS
from etl_project.schemas import EVENT_SCHEMAS

DEFAULT_MAX_SILENCE_MINUTES = 120.0
#: The asset whose freshness decides "silent" for the messages (every batch materialises all five).
SILENCE_SIGNAL_ASSET = RAW_EVENTS
EVENT_ASSET_KEYS = [RAW_EVENTS, *(dg.AssetKey(schema.table) for schema in EVENT_SCHEMAS)]


def max_silence_from_env() -> timedelta:
    return timedelta(
        minutes=float(os.getenv("ETL_INGESTION_MAX_SILENCE_MINUTES") or DEFAULT_MAX_SILENCE_MINUTES)
    )


@dg.definitions
def ingestion_freshness() -> dg.Definitions:
    checks = dg.build_last_update_freshness_checks(
        assets=EVENT_ASSET_KEYS, lower_bound_delta=max_silence_from_env()
    )
    sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=checks,
        name="ingestion_freshness_sensor",
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    return dg.Definitions(asset_checks=checks, sensors=[sensor])
