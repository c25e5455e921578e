"""Secrets never reach logs, metadata or errors; local services listen on this machine only."""

from datetime import datetime

import dagster as dg
import psycopg2
import pytest

from etl_project.cli import build_parser
from etl_project.definitions import build_resources, load_definitions
from etl_project.defs.alerting.check_failure_sensor import check_failure_slack_sensor
from etl_project.defs.alerting.quarantine_sensor import quarantined_file_slack_sensor
from etl_project.defs.alerting.silence_sensor import ingestion_silence_slack_sensor
from etl_project.defs.ingestion.assets import batch_event_tables
from etl_project.defs.ingestion.partitions import batch_partitions
from etl_project.defs.sales_analytics.assets import store_daily_sales
from etl_project.defs.sales_analytics.checks import sales_drop_check
from etl_project.defs.sales_analytics.sensors import sales_drop_slack_sensor
from etl_project.generator.events import write_batch_file
from etl_project_tests.helpers import then_deliver
from etl_testkit.fake_slack import BOT_TOKEN, WEBHOOK_PATH, FakeSlack
from etl_testkit.sales_history import AS_OF, history_events

DB_PASSWORD = "db-pa55word-never-shown"


@pytest.mark.parametrize("channel", ["bot", "webhook"])
def test_a_full_run_with_secrets_set_logs_none_of_them(
    channel, monkeypatch, database_url, shared_dir, instance, capfd, caplog
):
    url_with_password = database_url.replace("postgres:@", f"postgres:{DB_PASSWORD}@", 1)
    assert DB_PASSWORD in url_with_password
    with FakeSlack() as slack:
        slack.mode = "http_500"  # errors are where secrets usually leak
        monkeypatch.setenv("ETL_DATABASE_URL", url_with_password)
        monkeypatch.setenv("ETL_SHARED_DATA_DIR", str(shared_dir))
        monkeypatch.setenv("ETL_SALES_DROP_AS_OF_DATE", AS_OF.isoformat())
        monkeypatch.setenv("ETL_SALES_DROP_MIN_BASELINE", "50")
        if channel == "bot":
            monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
            monkeypatch.setenv("SLACK_CHANNEL", "#sales")
            monkeypatch.setenv("SLACK_API_URL", slack.api_url)
        else:
            monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.webhook_url)
        resources = build_resources()
        write_batch_file(shared_dir, "history", datetime(2025, 4, 21, 6), history_events())
        (shared_dir / "broken.csv").write_bytes(b"\xff\xfe not a batch")
        instance.add_dynamic_partitions(batch_partitions.name, ["broken", "history"])
        loads = dg.materialize(
            [batch_event_tables],
            instance=instance,
            resources=resources,
            tags={
                "dagster/asset_partition_range_start": "broken",
                "dagster/asset_partition_range_end": "history",
            },
            raise_on_error=False,
        )
        assert loads.success  # the broken file fails only its own batch_file_readable check
        assert dg.materialize(
            [store_daily_sales, sales_drop_check], instance=instance, resources=resources
        ).success
        context = dg.build_sensor_context(instance=instance, resources=resources)
        summary = then_deliver(sales_drop_slack_sensor(context).skip_message, instance, resources)
        assert "1 pending" in summary and slack.requests >= 1
        summaries = [summary]
        # Every other alert path, with the code location's definitions: the quarantined file is queued too.
        for sensor in (
            quarantined_file_slack_sensor,
            check_failure_slack_sensor,
            ingestion_silence_slack_sensor,
        ):
            context = dg.build_sensor_context(
                instance=instance, resources=resources, definitions=load_definitions()
            )
            summaries.append(then_deliver(sensor(context).skip_message, instance, resources))
        assert "quarantined: broken.csv" in summaries[1] and "2 pending" in summaries[1]

    captured = capfd.readouterr()
    seen = [*summaries, captured.out, captured.err, caplog.text]
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT message::text, coalesce(last_error, '') FROM utilities.alert_outbox")
        seen += [text for row in cur.fetchall() for text in row]
    for run in instance.get_runs():
        seen += [str(record) for record in instance.all_logs(run.run_id)]
        seen.append(str(run.run_config))
    everything = "\n".join(seen)
    for secret in (DB_PASSWORD, BOT_TOKEN, WEBHOOK_PATH):
        assert secret not in everything


def test_embedded_postgres_listens_on_no_network_interface(pg_server_url, monkeypatch):
    if "host=/" not in pg_server_url:
        pytest.skip("ETL_TEST_DATABASE_URL points at an external server")
    conn = psycopg2.connect(pg_server_url)
    with conn.cursor() as cur:
        cur.execute("SHOW listen_addresses")
        assert cur.fetchone()[0] == ""  # Unix socket only
    conn.close()


def test_local_webserver_binds_to_loopback_by_default():
    args = build_parser().parse_args(["dev"])
    assert args.host == "127.0.0.1"
