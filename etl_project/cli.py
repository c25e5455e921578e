"""`etl`: the platform's command line (run it as `.venv/bin/etl` or `python -m etl_project.cli`).

etl dev                 start PostgreSQL, migrate, seed sample history, run `dagster dev`
etl db-url              start the embedded PostgreSQL if needed and print the ETL database URL
etl db-stop             stop the embedded PostgreSQL
etl migrate             apply the SQL migrations of etl_db/migrations
etl adopt-legacy        convert a legacy pipeline's database in place, once (one transaction, no row lost)
etl generate            write one realistic batch file (or a large one with --events)
etl generate-history    write several days of batches with a sales drop on the last day
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from faker import Faker

from etl_project.database.embedded import embedded_server_uri, ensure_database, stop_embedded_server
from etl_project.database.legacy_adoption import (
    AdoptionError,
    NotLegacyDatabaseError,
    adopt_legacy_database_at,
)
from etl_project.generator.events import (
    BatchShape,
    Catalog,
    SequentialIds,
    generate_events,
    generate_history,
    write_batch_file,
)
from etl_project.paths import DEFAULT_SHARED_DATA_DIR, LOCAL_DAGSTER_HOME, PROJECT_ROOT
from etl_project.resources import EtlDatabase
from etl_project.resources.postgres import redact_url

#: Database of the Dagster instance's own storage on the embedded server.
DAGSTER_DATABASE = "dagster"


def _etl_database() -> EtlDatabase:
    """The ETL database as the code location configures it (ETL_DATABASE_URL, ETL_TIMEZONE)."""
    return EtlDatabase(url=os.getenv("ETL_DATABASE_URL") or None, timezone=os.getenv("ETL_TIMEZONE") or "UTC")


def _etl_database_url() -> str:
    return _etl_database().resolved_url()


def _dagster_storage_url() -> str:
    """Dagster's run/event storage: DAGSTER_POSTGRES_URL, or a `dagster` database on the embedded server."""
    url = os.getenv("DAGSTER_POSTGRES_URL")
    if url:
        return url
    uri = ensure_database(embedded_server_uri(), DAGSTER_DATABASE)
    # SQLAlchemy must use psycopg2 here (with psycopg 3 installed, dagster-postgres' NOTIFY fails).
    return uri.replace("postgresql://", "postgresql+psycopg2://", 1)


def _migrate() -> None:
    with _etl_database().connect():
        pass  # connecting applies pending migrations


def cmd_dev(args: argparse.Namespace) -> int:
    """Everything `make dev` needs after the install: database, schema, sample data, Dagster."""
    etl_url = _etl_database_url()
    _migrate()
    shared = Path(os.getenv("ETL_SHARED_DATA_DIR") or DEFAULT_SHARED_DATA_DIR)
    shared.mkdir(parents=True, exist_ok=True)
    if not any(shared.glob("*.csv")) and not args.no_history:
        yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
        from etl_project.defs.generator.jobs import DatabaseIds  # imports Dagster: only here

        # Ids reserved from the database's sequences, as the every-minute generator does: a generated batch
        # loaded before the last history file must not take ids the history uses.
        with _etl_database().connect() as conn:
            files = generate_history(shared, end_date=yesterday, days=9, ids=DatabaseIds(conn))
        print(f"Seeded {shared} with {len(files)} sample history batches ending {yesterday}.")
    home = Path(os.getenv("DAGSTER_HOME") or LOCAL_DAGSTER_HOME)
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROJECT_ROOT / "dagster.local.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ETL_DATABASE_URL": etl_url,
        "DAGSTER_POSTGRES_URL": _dagster_storage_url(),
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


def cmd_db_url(args: argparse.Namespace) -> int:
    print(_etl_database_url())
    return 0


def cmd_db_stop(args: argparse.Namespace) -> int:
    print(
        "Stopped the embedded PostgreSQL."
        if stop_embedded_server()
        else "The embedded PostgreSQL was not running."
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    _migrate()
    print(f"Schema up to date in {redact_url(_etl_database_url())}")
    return 0


def cmd_adopt_legacy(args: argparse.Namespace) -> int:
    """Convert the legacy pipeline's tables in place (the platform refuses to migrate them until then).

    Connects without migrating (that is what refuses) and reads the legacy naive timestamps in ETL_TIMEZONE.
    """
    url = _etl_database_url()
    print(f"ETL database: {redact_url(url)}")
    try:
        report = adopt_legacy_database_at(url, os.getenv("ETL_TIMEZONE") or "UTC")
    except NotLegacyDatabaseError as err:
        print(err)
        return 0 if err.already_adopted else 1
    except AdoptionError as err:
        print(f"etl adopt-legacy: {err}", file=sys.stderr)
        return 1
    print("\n".join(report.lines()))
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    """One batch; `--events N` makes a large one (80% sales) for benchmarks."""
    fake = Faker()
    fake.seed_instance(args.seed)
    rng = random.Random(args.seed)
    batch_id = args.batch_id or f"manual__{datetime.now(timezone.utc).isoformat(timespec='seconds')}"
    created_at = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    if args.events:
        entities = args.events // 5
        shape = BatchShape(
            stores=max(1, entities // 20),
            products=max(1, entities // 10),
            orders=entities - max(1, entities // 20) - max(1, entities // 10),
            sales=(args.events - entities, args.events - entities),
        )
    else:
        shape = BatchShape()
    events = generate_events(
        fake=fake, rng=rng, ids=SequentialIds(), catalog=Catalog(), created_at=created_at, shape=shape
    )
    path = write_batch_file(Path(args.out), batch_id, created_at, events)
    print(path)
    return 0


def cmd_generate_history(args: argparse.Namespace) -> int:
    end = date.fromisoformat(args.end) if args.end else datetime.now(timezone.utc).date() - timedelta(days=1)
    files = generate_history(
        Path(args.out), end_date=end, days=args.days, batches_per_day=args.batches_per_day, seed=args.seed
    )
    print(f"Wrote {len(files)} batch files to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="etl", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    dev = sub.add_parser("dev", help="run the platform locally (dagster dev)")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.add_argument("--no-history", action="store_true", help="do not seed sample history")
    dev.set_defaults(func=cmd_dev)
    sub.add_parser("db-url", help="print the ETL database URL").set_defaults(func=cmd_db_url)
    sub.add_parser("db-stop", help="stop the embedded PostgreSQL").set_defaults(func=cmd_db_stop)
    sub.add_parser("migrate", help="apply SQL migrations").set_defaults(func=cmd_migrate)
    sub.add_parser(
        "adopt-legacy",
        help="convert a legacy pipeline's database in place, once: every row and id kept, one transaction",
    ).set_defaults(func=cmd_adopt_legacy)
    gen = sub.add_parser("generate", help="write one batch file")
    gen.add_argument("--out", default=str(DEFAULT_SHARED_DATA_DIR))
    gen.add_argument("--batch-id", default=None, help="default: manual__<now>")
    gen.add_argument("--events", type=int, default=0, help="total events for a large batch (80%% sales)")
    gen.add_argument("--seed", type=int, default=None)
    gen.set_defaults(func=cmd_generate)
    hist = sub.add_parser("generate-history", help="write days of batches with a sales drop on the last day")
    hist.add_argument("--out", default=str(DEFAULT_SHARED_DATA_DIR))
    hist.add_argument("--days", type=int, default=9)
    hist.add_argument("--end", default=None, help="last day (YYYY-MM-DD), default yesterday (UTC)")
    hist.add_argument("--batches-per-day", type=int, default=4)
    hist.add_argument("--seed", type=int, default=7)
    hist.set_defaults(func=cmd_generate_history)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
