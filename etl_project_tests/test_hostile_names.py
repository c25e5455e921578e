"""File names that are not valid UTF-8 never stop the sensor: recorded, reported once, the rest loads (#25.1)."""

import os

import dagster as dg
import pytest

from etl_project.cli import main
from etl_project.defs.alerting.quarantine_sensor import quarantined_file_slack_sensor
from etl_project.defs.alerting.resources import AlertChannel
from etl_project.defs.ingestion.sensors import batch_file_sensor
from etl_project_tests.helpers import then_deliver, write_generated_batch

pytestmark = pytest.mark.every_postgres_major

#: `Käse.csv` as an SMB client writes it in Latin-1.
LATIN1_NAME = b"K\xe4se.csv"


def _tick(instance, resources) -> dg.SensorResult | dg.SkipReason:
    return batch_file_sensor(dg.build_sensor_context(instance=instance, resources=resources))


def _announce(instance, etl_database) -> str:
    channel = AlertChannel()  # no Slack settings: the message is recorded in the outbox and logged (dry run)
    context = dg.build_sensor_context(
        instance=instance, resources={"etl_database": etl_database, "alert_channel": channel}
    )
    resources = {"etl_database": etl_database, "alert_channel": channel}
    return then_deliver(quarantined_file_slack_sensor(context).skip_message, instance, resources)


def test_a_file_name_that_is_not_utf8_is_quarantined_once_and_the_others_load(
    instance, resources, shared_dir, etl_database, db, database_url, monkeypatch, capsys
):
    write_generated_batch(shared_dir, "good")
    with open(os.path.join(os.fsencode(shared_dir), LATIN1_NAME), "wb") as file:
        file.write(b'"batch_id","event_type","payload","batch_created_at"\n')

    first = _tick(instance, resources)

    assert [r.partition_key for r in first.run_requests] == ["good"]
    with db.cursor() as cur:
        cur.execute("SELECT filename, batch_id, status, error FROM utilities.processed_files")
        [(filename, batch_id, status, error)] = cur.fetchall()
    assert (filename, batch_id, status) == ("K\\xe4se.csv", "K\\xe4se", "quarantined")
    assert error.startswith("K\\xe4se.csv: the file name is not valid UTF-8")

    # announced once through the alert outbox, like any quarantined file
    assert "K\\xe4se.csv" in _announce(instance, etl_database)
    assert _announce(instance, etl_database).startswith("no newly quarantined file")
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM utilities.alert_outbox WHERE kind = 'quarantined_file'")
        assert cur.fetchone()[0] == 1

    # the next tick records nothing new and still requests the good file (not loaded yet)
    second = _tick(instance, resources)
    assert [r.partition_key for r in second.run_requests] == ["good"]
    assert _announce(instance, etl_database).startswith("no newly quarantined file")

    monkeypatch.setenv("ETL_DATABASE_URL", database_url)
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "quarantined files  1" in out and "K\\xe4se.csv" in out and "not valid UTF-8" in out
