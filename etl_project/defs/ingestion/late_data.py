"""Late data: the replay op, replay_late_events_job and its schedule, which load the rows (sales, mostly) whose
store, product or order arrived later. The SQL that moves them is `etl_project/loading/replay.py`.
"""

import dagster as dg

from etl_project.defs.alerting.freshness import freshness_after_load
from etl_project.defs.ingestion.batch_results import replay_results
from etl_project.defs.ingestion.resources import DataQualityLimits
from etl_project.loading import batches_to_replay, replay_batch
from etl_project.resources import EtlDatabase


@dg.op(description="Moves rejected rows whose references now exist into their tables, once.", out={})
def replay_late_references(
    context: dg.OpExecutionContext, etl_database: EtlDatabase, data_quality_limits: DataQualityLimits
):
    """Re-validate rows rejected for an unknown store/product/order id; load those that now pass.

    Rows that still fail keep their (refreshed) reason. Each batch that changed is reported as a new
    materialisation of its partition, so store_daily_sales refreshes through its automation condition, and
    its data-quality checks are evaluated again on the new counts (a warning about late rows clears).
    """
    total = 0
    with etl_database.connect() as conn:
        for batch_id in batches_to_replay(conn):
            moved = replay_batch(conn, batch_id)
            total += moved.total()
            if moved.total():
                yield from replay_results(context.instance, conn, data_quality_limits, batch_id, moved)
    context.log.info(f"Replayed {total} late rows")
    yield from freshness_after_load(context.instance, context.run.run_id)  # of what the replay materialised


@dg.job(
    description="Loads rows that arrived before the rows they reference (see replay_late_references).",
    executor_def=dg.in_process_executor,
)
def replay_late_events_job() -> None:
    replay_late_references()


replay_late_events_schedule = dg.ScheduleDefinition(
    name="replay_late_events_every_10_minutes",
    job=replay_late_events_job,
    cron_schedule="*/10 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Retries rows rejected for an unknown reference, in case the referenced rows arrived since.",
)
