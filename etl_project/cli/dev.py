"""`etl dev`: the local platform in one command (database, schema, sample history, `dg dev`)."""

import argparse
import os
import shutil
import socket
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path

from etl_project.cli.settings import dagster_storage_url, etl_database, etl_database_url, migrate
from etl_project.cli.terminal_log import run_filtered
from etl_project.generator.events import generate_history
from etl_project.generator.from_database import DatabaseIds
from etl_project.paths import DEFAULT_SHARED_DATA_DIR, LOCAL_DAGSTER_HOME, PROJECT_ROOT
from etl_project.resources.postgres import redact_url

#: What the terminal of `etl dev` shows of the Dagster services and every run (terminal_log.py).
LOG_LEVELS = ("warning", "info", "debug")
DEFAULT_LOG_LEVEL = "warning"
#: Hosts that mean "every interface": links in alerts use this machine's name instead.
ANY_INTERFACE = {"0.0.0.0", "::", ""}


def webserver_url(host: str, port: int) -> str:
    """The UI's address as a browser on this machine or the network reaches it."""
    if host in ANY_INTERFACE:
        host = socket.gethostname()
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"http://{host}:{port}"


def alert_link_base(host: str, port: int, environ: Mapping[str, str]) -> str:
    """DAGSTER_WEBSERVER_URL for the links in alerts: as set (e.g. a proxy's address), else this UI's."""
    return environ.get("DAGSTER_WEBSERVER_URL") or webserver_url(host, port)


def dev_command(host: str, port: int, log_level: str = DEFAULT_LOG_LEVEL) -> list[str]:
    """`dg dev` (Dagster 1.13's dev server: webserver, daemon with the sensors and schedules, code server)."""
    dg_cli = Path(sys.executable).with_name("dg")
    return [
        str(dg_cli),
        "dev",
        "--workspace",
        str(PROJECT_ROOT / "workspace.yaml"),
        "--host",
        host,
        "--port",
        str(port),
        # the services' own log at info at least (the webserver's "Serving ... on" line); run_filtered shows
        # what log_level asks for of it and of the runs and code servers
        "--log-level",
        "debug" if log_level == "debug" else "info",
    ]


def cmd_dev(args: argparse.Namespace) -> int:
    """Everything `make dev` needs after the install: database, schema, sample data, Dagster."""
    etl_url = etl_database_url()
    migrate()
    shared = Path(os.getenv("ETL_SHARED_DATA_DIR") or DEFAULT_SHARED_DATA_DIR)
    shared.mkdir(parents=True, exist_ok=True)
    if not any(shared.glob("*.csv")) and not args.no_history:
        yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
        # Ids reserved from the database's sequences, as the every-minute generator does: a generated batch
        # loaded before the last history file must not take ids the history uses.
        with etl_database().connect() as conn:
            files = generate_history(shared, end_date=yesterday, days=9, ids=DatabaseIds(conn))
        print(f"Seeded {shared} with {len(files)} sample history batches ending {yesterday}.")
    home = Path(os.getenv("DAGSTER_HOME") or LOCAL_DAGSTER_HOME)
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROJECT_ROOT / "dagster.local.yaml", home / "dagster.yaml")
    ui_url = alert_link_base(args.host, args.port, os.environ)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ETL_DATABASE_URL": etl_url,
        "DAGSTER_POSTGRES_URL": dagster_storage_url(),
        "ETL_SHARED_DATA_DIR": str(shared),
        # Links in alerts point at this UI (unless DAGSTER_WEBSERVER_URL says otherwise, e.g. behind a proxy).
        "DAGSTER_WEBSERVER_URL": ui_url,
    }
    print(f"ETL database: {redact_url(etl_url)}")
    print(f"Dagster UI:   http://{args.host}:{args.port} (links in alerts: {redact_url(ui_url)})")
    if args.log_level == DEFAULT_LOG_LEVEL:
        print(
            "This terminal shows warnings and errors; each run's full log is in the UI (--log-level info: more)."
        )
    sys.stdout.flush()
    os.chdir(PROJECT_ROOT)
    return run_filtered(dev_command(args.host, args.port, args.log_level), env, args.log_level)


def register(sub: argparse._SubParsersAction) -> None:
    dev = sub.add_parser(
        "dev", help="run the platform locally: embedded PostgreSQL, migrations, sample history, `dg dev`"
    )
    dev.add_argument(
        "--host", default="127.0.0.1", help="interface the UI listens on (0.0.0.0: every interface)"
    )
    dev.add_argument("--port", type=int, default=3000, help="port of the UI")
    dev.add_argument(
        "--no-history", action="store_true", help="do not seed sample history into an empty shared directory"
    )
    dev.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default=DEFAULT_LOG_LEVEL,
        help="what this terminal shows of the Dagster services and of every run (the UI keeps every run's log)",
    )
    dev.set_defaults(func=cmd_dev)
