"""Alerts other than the sales verdict, end to end: real evaluations in a Dagster instance, the sensors' own
evaluation, the outbox in real PostgreSQL and the fake Slack."""

import json
from datetime import timedelta

import dagster as dg
import pytest
from dagster._core.test_utils import freeze_time  # Dagster's own clock for tests (freshness is about time)

from etl_project.defs.alerting.check_failure_sensor import check_failure_slack_sensor
from etl_project.defs.alerting.freshness import ingestion_freshness
from etl_project.defs.alerting.quarantine_sensor import quarantined_file_slack_sensor
from etl_project.defs.alerting.resources import AlertChannel
from etl_project.defs.alerting.run_failure_sensor import first_error_line, run_failure_slack_sensor
from etl_project.defs.alerting.silence_sensor import ingestion_silence_slack_sensor
from etl_project.defs.ingestion.assets import batch_event_tables
from etl_project.defs.ingestion.resources import DataQualityLimits
from etl_project_tests.helpers import (
    entity_rows,
    materialize_batches,
    then_deliver,
    write_generated_batch,
    write_raw_batch,
)
from etl_testkit.fake_slack import BOT_TOKEN, FakeSlack

pytestmark = pytest.mark.every_postgres_major

BATCHES = dg.StaticPartitionsDefinition(["b1", "b2"])
OUTCOME_TAG = "test/outcome"  # "pass", "fail" or "warn": what the test checks below report


@dg.asset(partitions_def=BATCHES)
def landed() -> None:
    """A partitioned asset standing in for an event table."""


def _result(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    outcome = context.run.tags[OUTCOME_TAG]
    return dg.AssetCheckResult(
        passed=outcome == "pass",
        severity=dg.AssetCheckSeverity.WARN if outcome == "warn" else dg.AssetCheckSeverity.ERROR,
        description="30.0% of the batch's rows were rejected",
        metadata={
            "file": f"{context.partition_key}.csv",
            "rows_in_file": 10,
            "rows_loaded": 7,
            "rows_rejected": 3,
            "rejected_percent": 30.0,
            "top_reasons": dg.MetadataValue.json(
                [{"reason": "unknown store_id", "count": 2}, {"reason": "wrong type", "count": 1}]
            ),
        },
    )


@dg.asset_check(asset=landed, partitions_def=BATCHES, metadata={"etl/alert_on_failure": True})
def rejected_share(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    """Opted into Slack alerts, as the per-batch data-quality checks are."""
    return _result(context)


@dg.asset_check(asset=landed, partitions_def=BATCHES)
def not_alerting(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    """Not opted in: its failures stay in the UI."""
    return _result(context)


CHECK_DEFS = dg.Definitions(assets=[landed], asset_checks=[rejected_share, not_alerting])


def _bot(slack: FakeSlack) -> AlertChannel:
    return AlertChannel(slack_bot_token=BOT_TOKEN, slack_channel="#alerts", slack_api_url=slack.api_url)


def _evaluate_checks(instance: dg.DagsterInstance, partition: str, outcome: str) -> None:
    result = dg.materialize(
        [landed, rejected_share, not_alerting],
        instance=instance,
        partition_key=partition,
        tags={OUTCOME_TAG: outcome},
    )
    assert len(result.get_asset_check_evaluations()) == 2


def _tick(sensor, instance, etl_database, channel, cursor=None, definitions=None) -> tuple[str, str | None]:
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        definitions=definitions,
        resources={"etl_database": etl_database, "alert_channel": channel},
    )
    result = sensor(context)
    resources = {"etl_database": etl_database, "alert_channel": channel}
    return then_deliver(result.skip_message, instance, resources), context.cursor


def test_a_failed_check_marked_for_alerts_is_posted_once_per_batch_and_episode(instance, etl_database):
    with FakeSlack() as slack:
        tick = lambda cursor: _tick(  # noqa: E731
            check_failure_slack_sensor, instance, etl_database, _bot(slack), cursor, CHECK_DEFS
        )
        _evaluate_checks(instance, "b1", "warn")
        summary, cursor = tick(None)
        _evaluate_checks(instance, "b1", "warn")  # the same problem, seen again: no new message
        _, cursor = tick(cursor)
        _evaluate_checks(instance, "b2", "fail")  # another batch: its own message
        _, cursor = tick(cursor)
        _evaluate_checks(instance, "b1", "pass")
        _evaluate_checks(instance, "b1", "warn")  # a new episode after it passed
        _, cursor = tick(cursor)
        tick(None)  # a restart that lost the cursor replays every evaluation: nothing is sent again
    assert "sent 1 message to #alerts" in summary
    titles = [m["blocks"][0]["text"]["text"] for m in slack.messages]
    assert titles == [
        ":warning: rejected_share failed on landed for batch b1",
        ":x: rejected_share failed on landed for batch b2",
        ":warning: rejected_share failed on landed for batch b1",
    ]
    text = slack.messages[0]["text"]
    assert "file: b1.csv" in text and "rows rejected 3" in text and "rejected percent 30.0" in text
    assert "unknown store_id: 2 rows" in text
    assert "not_alerting" not in json.dumps(slack.messages)


def test_a_batch_with_30_percent_bad_rows_is_announced_once_naming_every_failed_check(
    instance, resources, shared_dir, etl_database
):
    """The real per-batch checks: the bad batch fails rejected_share on sales and on the whole file (raw_events);
    one message names both with the top reasons, and the good batch of the same run sends nothing."""
    created = "2025-04-20 09:20:00"
    sale = {"order_id": 3, "store_id": 1, "product_id": 2, "quantity": 1, "sale_date": "2025-04-20"}
    sales = [sale] * 7 + [{**sale, "store_id": 99}, {**sale, "store_id": 98}, {**sale, "quantity": 0}]
    rows = entity_rows("bad", created) + [("bad", "sales_event", json.dumps(s), created) for s in sales]
    write_raw_batch(shared_dir, "bad", rows)
    write_generated_batch(shared_dir, "good")
    resources = {"data_quality_limits": DataQualityLimits(), **resources}
    assert materialize_batches(instance, resources, ["bad", "good"]).success
    defs = dg.Definitions(assets=[batch_event_tables], resources=resources)
    with FakeSlack() as slack:
        summary, cursor = _tick(check_failure_slack_sensor, instance, etl_database, _bot(slack), None, defs)
        _tick(check_failure_slack_sensor, instance, etl_database, _bot(slack), None, defs)  # cursor lost
    [message] = slack.messages
    assert message["blocks"][0]["text"]["text"] == (
        ":warning: rejected_share on raw_events, rejected_share on sales failed for batch bad"
    )
    assert "file: bad.csv" in message["text"] and "sales: 30.0% of 10 rows rejected" in message["text"]
    assert "unknown store_id: 2 rows" in message["text"] and "not positive: 1 rows" in message["text"]
    assert "1 message(s) queued" in summary and "good" not in json.dumps(slack.messages)


def test_a_quarantined_file_is_announced_once_with_its_reason(instance, resources, shared_dir, etl_database):
    (shared_dir / "broken.csv").write_text("this,is,not\na,batch,file\n", encoding="utf-8")
    materialize_batches(instance, resources, ["broken"], raise_on_error=False)
    with FakeSlack() as slack:
        summary, _ = _tick(quarantined_file_slack_sensor, instance, etl_database, _bot(slack))
        again, _ = _tick(quarantined_file_slack_sensor, instance, etl_database, _bot(slack))
    [message] = slack.messages
    assert "Quarantined file broken.csv" in message["text"] and "reason: " in message["text"]
    assert "header" in message["text"]  # the loader's reason: the header is not a batch file's
    assert "broken.csv" in summary and again.startswith("no newly quarantined file; nothing due")


@dg.asset
def nightly_export() -> None:
    raise ValueError("disk full while writing export.csv\nsecond line of detail")


@dg.asset
def refused_export() -> None:
    raise dg.Failure(description="3 of 4 export files could not be written")


def test_a_failed_run_is_announced_once_with_job_error_and_link(instance, etl_database):
    result = dg.materialize([nightly_export], instance=instance, raise_on_error=False)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE]
    with FakeSlack() as slack:
        for _ in range(2):  # the same failure seen twice (a sensor restart) is one message
            context = dg.build_run_status_sensor_context(
                sensor_name="run_failure_slack_sensor",
                dagster_event=failure,
                dagster_instance=instance,
                dagster_run=run,
                resources={"etl_database": etl_database, "alert_channel": _bot(slack)},
            ).for_run_failure()
            summary = then_deliver(
                run_failure_slack_sensor(context).skip_message,
                instance,
                {"etl_database": etl_database, "alert_channel": _bot(slack)},
            )
    [message] = slack.messages
    assert f"Run of {run.job_name} failed" in message["text"]
    assert "ValueError: disk full while writing export.csv" in message["text"]
    assert "second line" not in message["text"]
    assert f"http://127.0.0.1:3000/runs/{run.run_id}" in message["text"]
    assert "already announced" in summary


def test_a_failure_raised_by_our_code_is_quoted_without_dagsters_class_name(instance):
    result = dg.materialize([refused_export], instance=instance, raise_on_error=False)
    line = first_error_line(instance, result.run_id, fallback="")
    assert line == "3 of 4 export files could not be written"


def test_silent_ingestion_is_announced_once_and_its_end_once(instance, resources, shared_dir, etl_database):
    resources = {"data_quality_limits": DataQualityLimits(), **resources}
    freshness = ingestion_freshness()
    checks = list(freshness.asset_checks)
    defs = dg.Definitions(assets=[batch_event_tables], asset_checks=checks, resources=resources)

    def evaluate_freshness() -> list[bool]:
        result = dg.materialize(
            [batch_event_tables, *checks],
            instance=instance,
            resources=resources,
            selection=dg.AssetSelection.checks(*checks),
        )
        return [e.passed for e in result.get_asset_check_evaluations()]

    write_generated_batch(shared_dir, "first")
    assert materialize_batches(instance, resources, ["first"]).success
    loaded_at = instance.get_latest_materialization_event(dg.AssetKey("raw_events")).timestamp
    with FakeSlack() as slack:
        tick = lambda cursor: _tick(  # noqa: E731
            ingestion_silence_slack_sensor, instance, etl_database, _bot(slack), cursor, defs
        )
        for hours in (3, 4):  # two evaluations during the same silence
            with freeze_time(loaded_at + timedelta(hours=hours).total_seconds()):
                assert evaluate_freshness() == [False] * 5  # shown failing in the UI
        summary, cursor = tick(None)
        assert evaluate_freshness() == [True] * 5  # back to now: the batch is recent again
        _, cursor = tick(cursor)
        tick(cursor)
        tick(None)  # a restart that lost the cursor: the same silence is not announced again
    assert [m["blocks"][0]["text"]["text"] for m in slack.messages] == [
        ":hourglass: Ingestion is silent: no batch loaded",
        ":white_check_mark: Data is flowing again",
    ]
    assert "ingestion silent" in summary


def test_a_destination_that_is_down_holds_back_only_its_own_messages_and_gets_them_in_order(
    instance, resources, shared_dir, etl_database
):
    for name in ("broken_a", "broken_b"):
        (shared_dir / f"{name}.csv").write_text("not,a\nbatch,file\n", encoding="utf-8")
        materialize_batches(instance, resources, [name], raise_on_error=False)
    with FakeSlack() as down, FakeSlack() as up:
        channel = AlertChannel(
            slack_webhook_url=down.webhook_url,
            slack_bot_token=BOT_TOKEN,
            slack_channel="#alerts",
            slack_api_url=up.api_url,
        )
        down.mode = "http_500"
        during, _ = _tick(quarantined_file_slack_sensor, instance, etl_database, channel)
        assert [m["via"] for m in up.messages] == ["bot", "bot"] and down.messages == []
        assert "sent 2 messages to #alerts" in during and "2 pending" in during and "HTTP 500" in during
        down.mode = "ok"
        after, _ = _tick(quarantined_file_slack_sensor, instance, etl_database, channel)
    assert [m["text"].split("\n")[0] for m in down.messages] == [
        ":no_entry: Quarantined file broken_a.csv",
        ":no_entry: Quarantined file broken_b.csv",
    ]
    assert len(up.messages) == 2 and "sent 2 messages to webhook" in after
