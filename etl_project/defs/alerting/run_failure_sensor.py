"""run_failure_slack_sensor: a failed run is announced once, with its job, the error's first line and a link."""

import dagster as dg

from etl_project.defs.alerting.messengers import AlertMessage
from etl_project.defs.alerting.outbox import deliver_pending, enqueue_alert
from etl_project.defs.alerting.resources import AlertChannel
from etl_project.resources import EtlDatabase

DAGSTER_FAILURE = f"{dg.Failure.__module__}.{dg.Failure.__name__}"


def first_error_line(instance: dg.DagsterInstance, run_id: str, fallback: str) -> str:
    """The first line of the run's first step error (what went wrong), or `fallback` (the run's own message)."""
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        error = record.dagster_event.step_failure_data.error
        if error is not None:
            # A user error is wrapped by Dagster; the innermost cause says what happened.
            while error.cause is not None and error.message.startswith("dagster._core.errors."):
                error = error.cause
            line = (error.message.strip().splitlines() or [fallback])[0]
            # dg.Failure is the code saying what went wrong in its own words: its class name adds nothing.
            return line.removeprefix(f"{DAGSTER_FAILURE}: ")
    return (fallback.strip().splitlines() or ["(no message)"])[0]


def run_failure_message(job_name: str, run_id: str, error_line: str, link: str) -> AlertMessage:
    return AlertMessage(
        title=f":rotating_light: Run of {job_name} failed",
        lines=[error_line, f"run {run_id}"],
        link=link,
        link_text="Open the run in Dagster",
    )


@dg.run_failure_sensor(
    name="run_failure_slack_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts each failed run to Slack once: the job, the error's first line and a link to the run.",
    # Runs made in another process (`etl quarantine retry|drop`, `dagster job execute`) carry no code-location
    # origin and would be missed otherwise; the instance serves this one code location.
    monitor_all_code_locations=True,
)
def run_failure_slack_sensor(
    context: dg.RunFailureSensorContext, etl_database: EtlDatabase, alert_channel: AlertChannel
) -> dg.SkipReason:
    """Queues one message per failed run (keyed by run id) and delivers pending alerts."""
    run = context.dagster_run
    error_line = first_error_line(context.instance, run.run_id, context.failure_event.message or "")
    message = run_failure_message(
        run.job_name, run.run_id, error_line, alert_channel.link(f"/runs/{run.run_id}")
    )
    messengers = alert_channel.messengers(context.log)
    with etl_database.connect() as conn:
        with conn, conn.cursor() as cur:
            queued = enqueue_alert(
                cur, f"run_failed:{run.run_id}", "run_failed", message, [m.name for m in messengers]
            )
        report = deliver_pending(conn, messengers)
    what = "queued" if queued is not None else "already announced"
    return dg.SkipReason(f"run {run.run_id} of {run.job_name} failed, {what}; {report.summary()}")
