"""load_batches_job: the runs that load batch files into the event tables (requested by batch_file_sensor)."""

import dagster as dg

from etl_project.defs.ingestion.assets import batch_event_tables
from etl_project.defs.sales_analytics.refresh_result import REFRESHES_TAG

#: Run monitoring (enabled in dagster.local.yaml and deploy/dagster.yaml) fails a load run still going after this
#: long: 100 batches of 1M events each take about 10-30 minutes on 2 cores, so an hour means the run is stuck.
LOAD_RUN_MAX_RUNTIME_SECONDS = 3600

load_batches_job = dg.define_asset_job(
    "load_batches_job",
    # Only the load's own checks: references_valid's full scan and the freshness checks run elsewhere.
    selection=dg.AssetSelection.assets(batch_event_tables).without_checks()
    | dg.AssetSelection.checks(*batch_event_tables.check_keys),
    executor_def=dg.in_process_executor,
    # dagster.local.yaml and deploy/dagster.yaml limit how many of these run at once (tag_concurrency_limits on etl/workload).
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
