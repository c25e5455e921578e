"""load_batches_job: the runs that load batch files into the event tables (requested by batch_file_sensor)."""

import dagster as dg

from etl_project.defs.ingestion.assets import batch_event_tables
from etl_project.defs.sales_analytics.refresh_result import REFRESHES_TAG

#: Run monitoring (enabled in dagster.local.yaml and deploy/dagster.yaml) fails a load run still going after this
#: long: a run's 200 batches (MAX_BATCHES_PER_RUN) of 1M events each take about 20-60 minutes on 2 cores, so two
#: hours mean the run is stuck.
LOAD_RUN_MAX_RUNTIME_SECONDS = 7200
#: How many load runs the queued run coordinator starts at once: the `etl/workload: batch-load` limit of
#: dagster.local.yaml and deploy/dagster.yaml (test_deployment_config.py fails if they differ from it). A backlog
#: is split to fill these slots (sensors.plan_runs).
LOAD_RUNS_AT_ONCE = 3

load_batches_job = dg.define_asset_job(
    "load_batches_job",
    # Only the load's own checks: references_valid's full scan and the freshness checks run elsewhere.
    selection=dg.AssetSelection.assets(batch_event_tables).without_checks()
    | dg.AssetSelection.checks(*batch_event_tables.check_keys),
    executor_def=dg.in_process_executor,
    # dagster.local.yaml and deploy/dagster.yaml limit how many of these run at once (LOAD_RUNS_AT_ONCE).
    # REFRESHES_TAG: the run refreshes store_daily_sales after its batches (batch_event_tables), in place of a
    # refresh run of its own.
    tags={
        "etl/workload": "batch-load",
        "dagster/max_runtime": str(LOAD_RUN_MAX_RUNTIME_SECONDS),
        **REFRESHES_TAG,
    },
    description="Loads batch files into the event tables, then refreshes store_daily_sales; requested by "
    "batch_file_sensor.",
)
