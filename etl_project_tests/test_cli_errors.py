"""`etl` in a terminal: an error is one or two lines on stderr and exit code 1, the traceback only with --verbose
or ETL_DEBUG=1; every command is listed once and described; URLs in errors are masked as `etl db-url` masks them."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from etl_project.cli import build_parser, main, subcommands
from etl_project.paths import PROJECT_ROOT
from etl_project_tests.helpers import materialize_batches

ETL = str(Path(sys.executable).with_name("etl"))


def _etl(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ETL, *args], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def etl_env(tmp_path, database_url, shared_dir) -> dict[str, str]:
    """The environment of a developer's shell: the platform's Dagster instance and ETL database."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    # a configured instance (as `make dev`'s), on SQLite in the folder: the URL below is never used
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {k: v for k, v in os.environ.items() if k != "ETL_DEBUG"}
    return {
        **env,
        "DAGSTER_HOME": str(home),
        "DAGSTER_POSTGRES_URL": "postgresql+psycopg2://unused",
        "ETL_DATABASE_URL": database_url,
        "ETL_SHARED_DATA_DIR": str(shared_dir),
    }


def test_a_failed_retry_says_what_went_wrong_and_what_to_do_in_two_lines(
    etl_env, resources, shared_dir, monkeypatch
):
    (shared_dir / "still_bad.csv").write_bytes(b"")
    monkeypatch.setenv("DAGSTER_HOME", etl_env["DAGSTER_HOME"])
    with dg.DagsterInstance.get() as instance:
        materialize_batches(instance, resources, ["still_bad"])

    quiet = _etl("quarantine", "retry", "still_bad", env=etl_env)
    loud = _etl("quarantine", "retry", "still_bad", "--verbose", env=etl_env)

    assert quiet.returncode == 1 and quiet.stdout == ""
    first, second = quiet.stderr.splitlines()
    assert first.startswith("etl quarantine retry: Batch 'still_bad' is still unreadable: still_bad.csv")
    assert "etl quarantine drop BATCH" in second and "(run " in second
    assert loud.returncode == 1 and "Traceback" in loud.stderr  # ours
    # Dagster's run log (what the step logs reaches the terminal through Dagster's compute-log tee, `tail -F`,
    # which may be cut short when the process exits: only the run's own events are sure to be there)
    assert "DEBUG - quarantined_batch_job" in loud.stderr and "RUN_START" in loud.stderr
    assert loud.stderr.splitlines()[-2] == first


def test_an_unexpected_error_is_one_line_and_a_hint_with_the_password_masked(monkeypatch, capsys):
    # nothing listens on port 1: the connection is refused, the URL carries a password
    monkeypatch.setenv("ETL_DATABASE_URL", "postgresql://etl:s3cret-pw@127.0.0.1:1/etl?connect_timeout=2")
    monkeypatch.delenv("ETL_DEBUG", raising=False)

    assert main(["status"]) == 1

    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert len(lines) == 2 and lines[0].startswith("etl status: OperationalError: "), err
    assert "etl db-url" in lines[1] and "--verbose" in lines[1]
    assert "s3cret-pw" not in out + err and "Traceback" not in err
    monkeypatch.setenv("ETL_DEBUG", "1")
    assert main(["status"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "s3cret-pw" not in err.splitlines()[-2]


def test_help_lists_each_command_once_and_every_command_has_a_description():
    parser = build_parser()
    text = parser.format_help()
    names = [
        command.prog.removeprefix("etl ") for command in subcommands(parser) if command.prog.count(" ") == 1
    ]
    assert {"db-url", "migrate", "adopt-legacy", "quarantine"} <= set(names)
    for name in names:
        assert text.count(f" {name} ") + text.count(f" {name}\n") == 1, f"{name} listed more than once"
    for command in subcommands(parser):
        assert command.description, f"{command.prog} has no description"
