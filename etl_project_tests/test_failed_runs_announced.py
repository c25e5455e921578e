"""Every failed run is announced once, whoever launched it: here a run made by `etl quarantine retry`, which runs
quarantined_batch_job in the command's own process (no code-location origin), seen by run_failure_slack_sensor
evaluated as the daemon evaluates it (with the code location's origin)."""

import dagster as dg
import pytest
from dagster._core.remote_origin import RegisteredCodeLocationOrigin

from etl_project.cli import main
from etl_project.defs.alerting.resources import AlertChannel
from etl_project.defs.alerting.run_failure_sensor import run_failure_slack_sensor
from etl_project_tests.helpers import materialize_batches, then_deliver
from etl_testkit.fake_slack import BOT_TOKEN, FakeSlack

pytestmark = pytest.mark.every_postgres_major


def _daemon_tick(instance: dg.DagsterInstance, cursor: str | None, resources: dict):
    """One evaluation of the sensor as the daemon makes it: in the code location `etl_project`."""
    context = dg.SensorEvaluationContext(
        instance_ref=None,
        instance=instance,
        cursor=cursor,
        repository_name="__repository__",
        sensor_name=run_failure_slack_sensor.name,
        resources=resources,
        code_location_origin=RegisteredCodeLocationOrigin("etl_project"),
    )
    return run_failure_slack_sensor.evaluate_tick(context)


def test_a_failed_retry_from_the_cli_is_announced_once(home_instance, resources, shared_dir, etl_database):
    (shared_dir / "still_bad.csv").write_bytes(b"")
    materialize_batches(home_instance, resources, ["still_bad"])
    with FakeSlack() as slack:
        channel = AlertChannel(
            slack_bot_token=BOT_TOKEN, slack_channel="#alerts", slack_api_url=slack.api_url
        )
        sensor_resources = {"etl_database": etl_database, "alert_channel": channel}
        cursor = _daemon_tick(home_instance, None, sensor_resources).cursor  # the sensor starts

        assert main(["quarantine", "retry", "still_bad"]) == 1

        tick = _daemon_tick(home_instance, cursor, sensor_resources)
        again = _daemon_tick(home_instance, tick.cursor, sensor_resources)
        then_deliver("", home_instance, sensor_resources)  # the outbox's one sender
    [message] = slack.messages
    assert "Run of quarantined_batch_job failed" in message["text"]
    assert "still unreadable: still_bad.csv: the file is empty" in message["text"]
    assert "quarantined_batch_job failed, queued" in tick.skip_message
    assert not again.skip_message or "quarantined_batch_job" not in again.skip_message
