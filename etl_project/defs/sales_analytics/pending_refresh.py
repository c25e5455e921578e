"""pending_sales_refresh_sensor and refresh_store_daily_sales_job: store_daily_sales is refreshed whenever the
change log (etl.store_daily_sales_changes) holds rows no refresh has consumed yet.

What triggers a refresh is what is pending in PostgreSQL, not an automation condition: `eager()`'s "a dep was
updated since the asset was last handled" was reset by a refresh that ended after a load's materialisation
although its snapshot predated the load's commit, and that batch then waited for the next one (issue 21.4).
A change row stays until a refresh consumes it, so a tick that sees it always leads to a refresh.
Load runs refresh after their batches (refresh_result.py), so a batch needs no refresh run of its own; while
runs that refresh are queued or running (a backlog), what is pending waits for them, for at most GRACE_SECONDS.
"""

import json
import time

import dagster as dg

from etl_project.analytics.pending import pending_changes
from etl_project.defs.sales_analytics.assets import store_daily_sales
from etl_project.defs.sales_analytics.refresh_result import REFRESHES_TAG
from etl_project.resources import EtlDatabase

#: How often the change log is looked at: a wait for this tick is on a late batch's path to its alert.
PENDING_TICK_SECONDS = 10
#: A run that refreshes after its own work (REFRESHES_TAG: load runs, the daily verdict) takes what was pending
#: when its refresh starts; a change still pending this long after this sensor first saw it is refreshed by a run
#: of its own, whatever else is running.
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
    "yet (a reload, a late-sales replay, a load whose run could not refresh), unless a run that will refresh "
    "(a load run, the daily verdict) is queued or running: for at most 60 s, then whatever else runs.",
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
    if active and now - since < GRACE_SECONDS:
        return dg.SkipReason(
            f"{pending.count} change(s) pending; {len(active)} run(s) queued or running refresh after their writes"
        )
    return dg.SensorResult(run_requests=[dg.RunRequest(tags={"etl/pending_changes": str(pending.count)})])
