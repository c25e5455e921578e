"""Daily store sales, the sales-drop check and its Slack alerts, end to end on real PostgreSQL."""

import logging
import re
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from etl_project.defs.alerting.resources import AlertChannel
from etl_project.defs.ingestion.integrity import references_valid
from etl_project.defs.sales_analytics.assets import store_daily_sales
from etl_project.defs.sales_analytics.checks import sales_drop_check
from etl_project.defs.sales_analytics.resources import SalesDropRules
from etl_project.defs.sales_analytics.schedules import daily_sales_verdict_job, daily_verdict
from etl_project.defs.sales_analytics.sensors import sales_drop_slack_sensor
from etl_project.defs.sales_analytics.verdict import verdict_due_at
from etl_project.generator.events import write_batch_file
from etl_project_tests.helpers import materialize_batches, then_deliver
from etl_testkit.fake_slack import BOT_TOKEN, FakeSlack
from etl_testkit.sales_history import AS_OF, EXPECTED_FLAGGED, history_events

pytestmark = pytest.mark.every_postgres_major

RULES = SalesDropRules(as_of_date=AS_OF.isoformat(), threshold_percent=-20, min_baseline_amount=50)


@pytest.fixture
def sales_history(instance, resources, shared_dir):
    write_batch_file(shared_dir, "history", datetime(2025, 4, 21, 6), history_events())
    assert materialize_batches(instance, resources, ["history"]).success


def _evaluate(instance, etl_database, rules=RULES) -> dg.AssetCheckEvaluation:
    result = dg.materialize(
        [store_daily_sales, sales_drop_check],
        instance=instance,
        resources={"etl_database": etl_database, "sales_drop_rules": rules},
    )
    assert result.success  # a failing non-blocking check leaves the run successful
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def _tick(instance, etl_database, channel: AlertChannel) -> str:
    context = dg.build_sensor_context(
        instance=instance, resources={"etl_database": etl_database, "alert_channel": channel}
    )
    resources = {"etl_database": etl_database, "alert_channel": channel}
    return then_deliver(sales_drop_slack_sensor(context).skip_message, instance, resources)


def _bot(slack: FakeSlack) -> AlertChannel:
    return AlertChannel(slack_bot_token=BOT_TOKEN, slack_channel="#sales", slack_api_url=slack.api_url)


def test_store_daily_sales_sums_quantity_times_price_per_store_id(sales_history, instance, etl_database, db):
    _evaluate(instance, etl_database)
    with db.cursor() as cur:
        cur.execute(
            "SELECT store_id, amount FROM etl.store_daily_sales WHERE sale_date = %s ORDER BY 1", (AS_OF,)
        )
        assert [(s, float(a)) for s, a in cur.fetchall()] == [(1, 50.0), (2, 90.0), (6, 60.0)]


def test_check_flags_exactly_the_right_stores_with_their_numbers(sales_history, instance, etl_database):
    evaluation = _evaluate(instance, etl_database)

    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert [r.data for r in evaluation.metadata["flagged_stores"].records] == EXPECTED_FLAGGED
    assert evaluation.metadata["rule"].value["threshold_percent"] == -20
    assert evaluation.metadata["verdict_final"].value is True
    assert evaluation.metadata["stores_examined"].value == 5
    assert evaluation.metadata["stores_below_min_baseline"].value == 1
    assert evaluation.metadata["as_of_date"].value == "2025-04-20"


def test_threshold_is_configurable(sales_history, instance, etl_database):
    rules = SalesDropRules(as_of_date=AS_OF.isoformat(), threshold_percent=-60, min_baseline_amount=50)
    evaluation = _evaluate(instance, etl_database, rules)
    assert [r.data["id"] for r in evaluation.metadata["flagged_stores"].records] == [3]


def test_passing_evaluation_says_how_many_stores_were_examined(sales_history, instance, etl_database):
    rules = SalesDropRules(as_of_date=AS_OF.isoformat(), threshold_percent=-100.5)
    evaluation = _evaluate(instance, etl_database, rules)
    assert evaluation.passed
    assert evaluation.metadata["stores_examined"].value > 0
    assert "examined" in evaluation.description


def test_sensor_posts_one_message_naming_the_stores_and_a_second_tick_posts_nothing(
    sales_history, instance, etl_database
):
    _evaluate(instance, etl_database)
    with FakeSlack() as slack:
        _tick(instance, etl_database, _bot(slack))
        _tick(instance, etl_database, _bot(slack))

    [message] = slack.messages
    assert message["channel"] == "#sales"
    text = message["text"]
    assert "Sales drop on 2025-04-20: 3 stores" in text
    assert "Corner (store id 3): 0.00 on 2025-04-20 vs 7-day average 100.00 (-100.0%)" in text
    assert "Twin Shop (store id 1): 50.00" in text and "(-50.0%)" in text
    assert "Weekend (store id 6): 60.00 on 2025-04-20 vs 7-day average 85.71 (-30.0%)" in text
    assert "Twin Shop (store id 2)" not in text and "Tiny" not in text and "Closed" not in text
    assert "http://127.0.0.1:3000/assets/store_daily_sales?view=checks" in text
    header, stores, actions = message["blocks"]  # Block Kit: a header, one line per store, a button
    assert header["type"] == "header" and "Sales drop on 2025-04-20" in header["text"]["text"]
    assert stores["text"]["text"].count("\n• ") == 2 and "Corner (store id 3)" in stores["text"]["text"]
    assert actions["elements"][0]["url"] == "http://127.0.0.1:3000/assets/store_daily_sales?view=checks"


def test_re_evaluating_the_check_does_not_alert_the_same_stores_again(sales_history, instance, etl_database):
    with FakeSlack() as slack:
        _evaluate(instance, etl_database)
        _tick(instance, etl_database, _bot(slack))
        _evaluate(instance, etl_database)
        _tick(instance, etl_database, _bot(slack))
    assert len(slack.messages) == 1


@pytest.mark.parametrize("failure", ["http_500", "not_ok"])
def test_failed_send_is_retried_on_a_later_tick(sales_history, instance, etl_database, failure):
    _evaluate(instance, etl_database)
    with FakeSlack() as slack:
        slack.mode = failure
        first = _tick(instance, etl_database, _bot(slack))
        assert slack.messages == [] and slack.requests >= 1
        assert "1 pending" in first and "will retry" not in first  # the tick reports, it does not crash
        slack.mode = "ok"
        _tick(instance, etl_database, _bot(slack))
        _tick(instance, etl_database, _bot(slack))
    assert len(slack.messages) == 1


def test_webhook_channel_is_supported_and_its_url_never_logged(
    sales_history, instance, etl_database, caplog, capfd
):
    _evaluate(instance, etl_database)
    with FakeSlack() as slack:
        channel = AlertChannel(slack_webhook_url=slack.webhook_url)
        slack.mode = "http_500"
        with caplog.at_level(logging.DEBUG):
            failed = _tick(instance, etl_database, channel)
        slack.mode = "ok"
        _tick(instance, etl_database, channel)
    assert [m["via"] for m in slack.messages] == ["webhook"]
    assert "Sales drop on 2025-04-20" in slack.messages[0]["text"]
    assert "secret-webhook-path" not in failed + caplog.text + str(capfd.readouterr())
    assert "HTTP 500" in failed


def test_without_slack_settings_the_message_is_logged_as_a_dry_run(
    sales_history, instance, etl_database, db, capfd
):
    _evaluate(instance, etl_database)
    capfd.readouterr()
    summary = _tick(instance, etl_database, AlertChannel())
    assert "sent 1 message to dry-run" in summary
    logged = capfd.readouterr().err
    assert "would send" in logged and "Corner (store id 3)" in logged
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM utilities.sales_drop_alerts")
        assert cur.fetchone()[0] == 3


def test_alerts_wait_while_slack_is_down_and_arrive_once_in_order(sales_history, instance, etl_database):
    day_before = SalesDropRules(as_of_date=(AS_OF - timedelta(days=1)).isoformat(), threshold_percent=-1)
    with FakeSlack() as slack:
        slack.mode = "http_500"
        _evaluate(instance, etl_database, day_before)
        _tick(instance, etl_database, _bot(slack))
        _evaluate(instance, etl_database)  # a second day's drop while Slack is still down
        for _ in range(5):  # an outage spanning many ticks
            assert "2 pending" in _tick(instance, etl_database, _bot(slack))
        slack.mode = "ok"
        _tick(instance, etl_database, _bot(slack))
        _tick(instance, etl_database, _bot(slack))
    assert [re.search(r"Sales drop on (\S+):", m["text"]).group(1) for m in slack.messages] == [
        "2025-04-19",
        "2025-04-20",
    ]


def test_a_check_that_was_planned_but_never_ran_sends_nothing(sales_history, instance, etl_database, db):
    with db.cursor() as cur:  # the refresh fails, so its check stays planned
        cur.execute("ALTER TABLE etl.store_daily_sales RENAME TO store_daily_sales_gone")
    result = dg.materialize(
        [store_daily_sales, sales_drop_check],
        instance=instance,
        resources={"etl_database": etl_database, "sales_drop_rules": RULES},
        raise_on_error=False,
    )
    assert not result.success
    with FakeSlack() as slack:
        summary = _tick(instance, etl_database, _bot(slack))
    assert slack.messages == [] and "0 sales alert(s) queued" in summary


def test_every_destination_gets_the_message_once(sales_history, instance, etl_database):
    _evaluate(instance, etl_database)
    with FakeSlack() as slack:
        channel = AlertChannel(
            slack_webhook_url=slack.webhook_url,
            slack_bot_token=BOT_TOKEN,
            slack_channel="#sales, U0123",
            slack_api_url=slack.api_url,
        )
        summary = _tick(instance, etl_database, channel)
        _tick(instance, etl_database, channel)
    assert sorted((m["via"], m.get("channel")) for m in slack.messages) == [
        ("bot", "#sales"),
        ("bot", "U0123"),
        ("webhook", None),
    ]
    assert "sent 1 message to #sales" in summary and "sent 1 message to webhook" in summary


def test_a_day_not_yet_complete_is_shown_in_the_ui_but_never_announced(
    instance, resources, shared_dir, etl_database
):
    today = datetime.now(UTC).date()  # its verdict is due tomorrow at 09:00 at the earliest
    write_batch_file(shared_dir, "today", datetime(2025, 4, 21, 6), history_events(as_of=today))
    assert materialize_batches(instance, resources, ["today"]).success
    rules = SalesDropRules(as_of_date=today.isoformat(), threshold_percent=-20, min_baseline_amount=50)
    evaluation = _evaluate(instance, etl_database, rules)
    assert not evaluation.passed and len(evaluation.metadata["flagged_stores"].records) == 3
    assert evaluation.metadata["verdict_final"].value is False
    assert "provisional" in evaluation.metadata["verdict"].value
    with FakeSlack() as slack:
        summary = _tick(instance, etl_database, _bot(slack))
    assert slack.messages == [] and summary.startswith("0 sales alert(s) queued; nothing due")


def test_the_schedule_judges_yesterday_whether_or_not_data_arrived(sales_history, instance, etl_database):
    [schedule] = daily_verdict().schedules
    assert schedule.cron_schedule == "0 9 * * *"
    nine_am = datetime(2025, 4, 21, 9, 0, tzinfo=UTC)
    request = schedule(dg.build_schedule_context(scheduled_execution_time=nine_am))
    assert request.tags["etl/sales_drop_as_of"] == "2025-04-20"
    defs = dg.Definitions(
        assets=[store_daily_sales],
        asset_checks=[sales_drop_check, references_valid],
        jobs=[daily_sales_verdict_job],
        resources={"etl_database": etl_database, "sales_drop_rules": SalesDropRules(min_baseline_amount=50)},
    )
    result = (
        defs.get_repository_def()
        .get_job("daily_sales_verdict_job")
        .execute_in_process(instance=instance, tags=request.tags)
    )
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["references_valid"].passed  # the daily look at every sale's references
    assert evaluations["references_valid"].metadata["scope"].value == "every row"
    evaluation = evaluations["sales_drop_check"]
    assert evaluation.metadata["as_of_date"].value == "2025-04-20"
    assert evaluation.metadata["verdict_final"].value is True
    assert len(result.get_asset_materialization_events()) == 1  # store_daily_sales refreshed first
    with FakeSlack() as slack:
        _tick(instance, etl_database, _bot(slack))
    [message] = slack.messages
    assert "Sales drop on 2025-04-20: 3 stores" in message["text"]


def test_a_day_without_any_sales_data_is_reported_once_as_such(sales_history, instance, etl_database):
    outage_day = AS_OF + timedelta(days=1)
    rules = SalesDropRules(as_of_date=outage_day.isoformat(), min_baseline_amount=50)
    evaluation = _evaluate(instance, etl_database, rules)
    assert not evaluation.passed
    assert evaluation.description.startswith(f"No sales data for {outage_day}")
    assert evaluation.metadata["no_sales_data"].value is True
    assert evaluation.metadata["flagged_stores"].records == []  # not every store at -100%
    with FakeSlack() as slack:
        _tick(instance, etl_database, _bot(slack))
        _evaluate(instance, etl_database, rules)
        _tick(instance, etl_database, _bot(slack))
    [message] = slack.messages
    assert f"No sales data for {outage_day}" in message["text"] and "-100" not in message["text"]


def test_verdict_due_time_follows_the_schedule_in_the_platform_time_zone():
    assert verdict_due_at(date(2025, 4, 20), "0 9 * * *", "UTC") == datetime(2025, 4, 21, 9, tzinfo=UTC)
    due = verdict_due_at(date(2025, 4, 20), "30 6 * * 1", "Europe/Berlin")  # Mondays 06:30 in Berlin
    assert due.isoformat() == "2025-04-21T06:30:00+02:00"


def test_no_sales_data_without_any_history_is_shown_but_not_announced(instance, etl_database):
    """A day without sales after 7 days without sales (an empty platform, or a check run before the first
    refresh): the check fails in the UI, but there is nothing to compare, so nothing is posted."""
    evaluation = _evaluate(instance, etl_database, SalesDropRules(as_of_date=AS_OF.isoformat()))
    assert not evaluation.passed and evaluation.metadata["no_sales_data"].value is True
    assert "nothing to compare" in evaluation.description
    with FakeSlack() as slack:
        _tick(instance, etl_database, _bot(slack))
    assert slack.messages == []
