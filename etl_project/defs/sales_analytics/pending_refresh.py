"""pending_sales_refresh_sensor and refresh_store_daily_sales_job: store_daily_sales is refreshed whenever the
change log (etl.store_daily_sales_changes) holds rows no refresh has consumed yet.

What triggers a refresh is what is pending in PostgreSQL, not an automation condition: `eager()`'s "a dep was
updated since the asset was last handled" was reset by a refresh that ended after a load's materialisation
although its snapshot predated the load's commit, and that batch then waited for the next one (issue 21.4).
A change row stays until a refresh consumes it, so a tick that sees it always leads to a refresh.
While load runs are queued or running (a backlog), what is pending waits for them, for at most GRACE_SECONDS:
one refresh after the backlog instead of a refresh run (and a check run) every tick while it loads.
"""

import json
import time

import dagster as dg

from etl_project.analytics.pending import pending_changes
from etl_project.defs.ingestion.jobs import load_batches_job
from etl_project.defs.sales_analytics.assets import store_daily_sales
from etl_project.resources import EtlDatabase

#: How often the change log is looked at: a wait for this tick is on a late batch's path to its alert.
PENDING_TICK_SECONDS = 10
#: Runs tagged so refresh store_daily_sales (this sensor's job; daily_sales_verdict_job, before its check).
REFRESHES_TAG = {"etl/refreshes": "store_daily_sales"}
#: A run that refreshes after its own work takes what was pending when its refresh starts, and load runs queued
#: or running will add more; a change still pending this long after this sensor first saw it is refreshed by a
#: run of its own, whatever else is running.
GRACE_SECONDS = 60
_ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]

refresh_store_daily_sales_job = dg.define_asset_job(
    "refresh_store_daily_sales_job",
    selection=dg.AssetSelection.assets(store_daily_sales).without_checks(),
    tags=REFRESHES_TAG,
    description="Refreshes store_daily_sales from the change log; requested by pending_sales_refresh_sensor.",
)


def _first_seen(cursor: str | None, oldest_change_id: int, now: float) -> float:
    """When this sensor first saw `oldest_change_id` pending (now, if the cursor names another change)."""
    seen = json.loads(cursor) if cursor else {}
    return seen["since"] if seen.get("oldest") == oldest_change_id else now


@dg.sensor(
    name="pending_sales_refresh_sensor",
    job=refresh_store_daily_sales_job,
    minimum_interval_seconds=PENDING_TICK_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every 10 s: refreshes store_daily_sales when the change log holds rows no refresh consumed "
    "yet (a load, reload or late-sales replay), unless a run that will refresh is already queued or running, "
    "or load runs are (for at most 60 s: one refresh after a backlog, not one every tick).",
)
def pending_sales_refresh_sensor(
    context: dg.SensorEvaluationContext, etl_database: EtlDatabase
) -> dg.SensorResult | dg.SkipReason:
    """Requests a refresh of store_daily_sales for the change-log rows still pending. Runs are looked at before
    the change log, so a run that ends in between leaves at most a refresh with nothing to do, never a change
    without a refresh."""
    active = context.instance.get_runs(filters=dg.RunsFilter(tags=REFRESHES_TAG, statuses=_ACTIVE))
    if any(run.job_name == refresh_store_daily_sales_job.name for run in active):
        return dg.SkipReason("A refresh run is queued or running: it takes what is pending")
    with etl_database.connect() as conn:
        pending = pending_changes(conn)
    if pending.oldest_change_id is None:
        context.update_cursor(None)
        return dg.SkipReason("Nothing pending in etl.store_daily_sales_changes")
    now = time.time()
    since = _first_seen(context.cursor, pending.oldest_change_id, now)
    context.update_cursor(json.dumps({"oldest": pending.oldest_change_id, "since": since}))
    if now - since < GRACE_SECONDS:
        if active:
            return dg.SkipReason(
                f"{pending.count} change(s) pending; {len(active)} run(s) queued or running refresh after "
                "their writes"
            )
        loads = context.instance.get_runs(
            filters=dg.RunsFilter(job_name=load_batches_job.name, statuses=_ACTIVE), limit=1
        )
        if loads:
            return dg.SkipReason(
                f"{pending.count} change(s) pending; load runs are queued or running: one refresh after them "
                f"(at most {GRACE_SECONDS} s after the oldest change)"
            )
    return dg.SensorResult(run_requests=[dg.RunRequest(tags={"etl/pending_changes": str(pending.count)})])
