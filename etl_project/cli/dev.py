"""`etl dev`: the local platform in one command (database, schema, sample history, `dagster dev`)."""

import argparse
import os
import shutil
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from etl_project.cli.settings import dagster_storage_url, etl_database, etl_database_url, migrate
from etl_project.generator.events import generate_history
from etl_project.paths import DEFAULT_SHARED_DATA_DIR, LOCAL_DAGSTER_HOME, PROJECT_ROOT
from etl_project.resources.postgres import redact_url


def cmd_dev(args: argparse.Namespace) -> int:
    """Everything `make dev` needs after the install: database, schema, sample data, Dagster."""
    etl_url = etl_database_url()
    migrate()
    shared = Path(os.getenv("ETL_SHARED_DATA_DIR") or DEFAULT_SHARED_DATA_DIR)
    shared.mkdir(parents=True, exist_ok=True)
    if not any(shared.glob("*.csv")) and not args.no_history:
        yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
        from etl_project.defs.generator.jobs import DatabaseIds  # imports Dagster: only here

        # Ids reserved from the database's sequences, as the every-minute generator does: a generated batch
        # loaded before the last history file must not take ids the history uses.
        with etl_database().connect() as conn:
            files = generate_history(shared, end_date=yesterday, days=9, ids=DatabaseIds(conn))
        print(f"Seeded {shared} with {len(files)} sample history batches ending {yesterday}.")
    home = Path(os.getenv("DAGSTER_HOME") or LOCAL_DAGSTER_HOME)
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROJECT_ROOT / "dagster.local.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ETL_DATABASE_URL": etl_url,
        "DAGSTER_POSTGRES_URL": dagster_storage_url(),
        "ETL_SHARED_DATA_DIR": str(shared),
    }
    print(f"ETL database: {redact_url(etl_url)}")
    print(f"Dagster UI:   http://{args.host}:{args.port}")
    dagster = Path(sys.executable).with_name("dagster")
    command = [
        str(dagster),
        "dev",
        "-w",
        str(PROJECT_ROOT / "workspace.yaml"),
        "-h",
        args.host,
        "-p",
        str(args.port),
    ]
    os.chdir(PROJECT_ROOT)
    os.execve(command[0], command, env)
    return 0  # not reached


def register(sub: argparse._SubParsersAction) -> None:
    dev = sub.add_parser("dev", help="run the platform locally (dagster dev)")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.add_argument("--no-history", action="store_true", help="do not seed sample history")
    dev.set_defaults(func=cmd_dev)
