"""Silent ingestion is visible in the UI: a freshness check on each event asset fails when no batch was loaded
for ETL_INGESTION_MAX_SILENCE_MINUTES (default 120), and ingestion_freshness_sensor evaluates them when due.

Built with Dagster's `build_last_update_freshness_checks` (the last materialisation of any batch partition
counts). ingestion_silence_slack_sensor turns their results into messages. Dagster 1.13 marks these builders
superseded by `FreshnessPolicy`, whose result is a freshness state rather than an asset check: it would show
no failed check on the assets and give the sensor no evaluation to follow, so the checks stay (their
SupersessionWarning is silenced in definitions.py).

The sensor evaluates a passed check again only when it can be overdue (hours later), and Dagster lists a check
whose latest evaluation is older than the asset's latest materialisation as "Not Evaluated": after every batch,
on every asset. So each load run also evaluates the checks of the assets it updated (`freshness_after_load`),
with the result, metadata and description the check itself would give at that moment (fresh, by definition).
"""

import os
import time
from collections.abc import Iterator
from datetime import timedelta

import dagster as dg

from etl_project import dagster_private as private
from etl_project.defs.ingestion.batch_results import RAW_EVENTS
from etl_project.schemas import EVENT_SCHEMAS

DEFAULT_MAX_SILENCE_MINUTES = 120.0
#: The asset whose freshness decides "silent" for the messages (every batch materialises all five).
SILENCE_SIGNAL_ASSET = RAW_EVENTS
EVENT_ASSET_KEYS = [RAW_EVENTS, *(dg.AssetKey(schema.table) for schema in EVENT_SCHEMAS)]
#: The name build_last_update_freshness_checks gives each check (test_00_definitions checks it).
FRESHNESS_CHECK = "freshness_check"


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


def freshness_after_load(instance: dg.DagsterInstance, run_id: str) -> Iterator[dg.AssetCheckEvaluation]:
    """The freshness check of each event asset this run materialised last, evaluated right after its loads:
    passed, fresh until its update plus the allowed silence (the sensor's next evaluation is due then)."""
    allowed = max_silence_from_env().total_seconds()
    now = time.time()
    params = {private.TIMEZONE_PARAM_KEY: "UTC", private.LOWER_BOUND_DELTA_PARAM_KEY: allowed}
    for record in instance.get_asset_records(EVENT_ASSET_KEYS):
        latest = record.asset_entry.last_materialization_record
        if latest is None or latest.run_id != run_id:
            continue  # another run updated it since; that run evaluates it
        updated = latest.timestamp
        yield dg.AssetCheckEvaluation(
            asset_key=record.asset_entry.asset_key,
            check_name=FRESHNESS_CHECK,
            passed=True,
            severity=dg.AssetCheckSeverity.WARN,
            target_materialization_data=private.AssetCheckEvaluationTargetMaterializationData(
                storage_id=latest.storage_id, run_id=run_id, timestamp=updated
            ),
            description=private.freshness_description(True, now - allowed, now, updated),
            metadata={
                private.FRESHNESS_PARAMS_METADATA_KEY: dg.MetadataValue.json(params),
                private.LOWER_BOUND_TIMESTAMP_METADATA_KEY: dg.MetadataValue.timestamp(now - allowed),
                private.FRESH_UNTIL_METADATA_KEY: dg.MetadataValue.timestamp(updated + allowed),
                private.LAST_UPDATED_TIMESTAMP_METADATA_KEY: dg.MetadataValue.timestamp(updated),
            },
        )
