"""A tick that did something says so in the column Dagster's tick list shows (its cursor); an idle tick says
nothing there, and a sensor's own state survives in the cursor beside the summary."""

import dagster as dg
import pytest

from etl_project.definitions import load_definitions
from etl_project.defs.alerting.check_failure_sensor import check_failure_slack_sensor
from etl_project.defs.alerting.delivery_sensor import alert_delivery_sensor
from etl_project.defs.alerting.quarantine_sensor import quarantined_file_slack_sensor
from etl_project.defs.alerting.resources import AlertChannel
from etl_project.defs.ingestion.sensors import batch_file_sensor
from etl_project.defs.tick_reports import cursor_state, tick_cursor
from etl_project_tests.helpers import materialize_batches, write_generated_batch
from etl_testkit.fake_slack import BOT_TOKEN, FakeSlack

pytestmark = pytest.mark.every_postgres_major


def _tick(sensor, instance, etl_database, channel, cursor=None, definitions=None) -> str | None:
    """One evaluation of `sensor`; the cursor it ends with, which the daemon records on the tick."""
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        definitions=definitions,
        resources={"etl_database": etl_database, "alert_channel": channel},
    )
    sensor(context)
    return context.cursor


def test_a_cursor_keeps_the_state_beside_what_the_tick_did():
    assert tick_cursor(None) is None  # the tick list shows a dash
    assert tick_cursor("sent 1 message to #alerts") == "sent 1 message to #alerts"
    assert cursor_state(tick_cursor("queued 1 alert", "1234")) == "1234"
    assert cursor_state(tick_cursor(None, "1234")) == "1234"
    assert cursor_state("1234") == "1234"  # a cursor written before the summaries
    assert cursor_state(None) is None


def test_the_ticks_that_queued_and_sent_an_alert_say_so_and_idle_ticks_do_not(
    instance, resources, shared_dir, etl_database
):
    (shared_dir / "broken.csv").write_text("this,is,not\na,batch,file\n", encoding="utf-8")
    materialize_batches(instance, resources, ["broken"], raise_on_error=False)
    with FakeSlack() as slack:
        channel = AlertChannel(
            slack_bot_token=BOT_TOKEN, slack_channel="#alerts", slack_api_url=slack.api_url
        )
        queued = _tick(quarantined_file_slack_sensor, instance, etl_database, channel)
        # The previous cursor is handed back in, as the daemon does: an idle tick must not repeat it.
        queued_again = _tick(quarantined_file_slack_sensor, instance, etl_database, channel, cursor=queued)
        sent = _tick(alert_delivery_sensor, instance, etl_database, channel)
        sent_again = _tick(alert_delivery_sensor, instance, etl_database, channel, cursor=sent)
    assert len(slack.messages) == 1
    assert queued == "queued an alert for 1 quarantined: broken.csv"
    assert sent == "sent 1 message to #alerts"
    assert queued_again is None and sent_again is None


def test_a_sensor_that_keeps_state_in_its_cursor_keeps_it_on_idle_ticks(instance, etl_database):
    channel = AlertChannel(slack_bot_token=BOT_TOKEN, slack_channel="#alerts")
    definitions = load_definitions()  # its checks marked etl/alert_on_failure are what the sensor watches
    cursor = _tick(check_failure_slack_sensor, instance, etl_database, channel, "41", definitions)
    assert cursor == "state=41"  # nothing evaluated after record 41: no summary, the state kept
    assert _tick(check_failure_slack_sensor, instance, etl_database, channel, cursor, definitions) == cursor


def test_the_file_sensors_tick_names_the_new_file_and_an_idle_tick_names_none(
    instance, resources, shared_dir
):
    write_generated_batch(shared_dir, "b1")
    found = dg.build_sensor_context(instance=instance, resources=resources)
    result = batch_file_sensor(found)
    for request in result.dynamic_partitions_requests:  # as the daemon does before launching the run
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    idle = dg.build_sensor_context(instance=instance, resources=resources, cursor=found.cursor)
    batch_file_sensor(idle)
    assert found.cursor == "1 new file: b1"
    assert idle.cursor is None
