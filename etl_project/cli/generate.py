"""`etl generate` and `etl generate-history`: batch files written by hand, for trying the platform out."""

import argparse
import os
import random
import sys
from contextlib import ExitStack
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from faker import Faker

from etl_project.cli.settings import etl_database
from etl_project.generator.batch_ids import MANUAL_PREFIX, readable_batch_id
from etl_project.generator.events import (
    BatchFileExistsError,
    BatchShape,
    Catalog,
    IdAllocator,
    SequentialIds,
    generate_events,
    generate_history,
)
from etl_project.generator.from_database import DatabaseIds, load_catalog
from etl_project.generator.taken_batch_ids import BatchIdTakenError, refuse_taken_batch_id
from etl_project.paths import DEFAULT_SHARED_DATA_DIR
from etl_project.resources.bucket_client import bucket_source
from etl_project.sources import BatchSource, DirectorySource, InvalidSourceUrlError


def destination(out: str) -> BatchSource:
    """Where `--out` points: `s3://bucket/prefix/` (through ETL_S3_ENDPOINT_URL when set), else a directory."""
    if out.startswith("s3://"):
        return bucket_source(out, os.getenv("ETL_S3_ENDPOINT_URL"))
    return DirectorySource(Path(out))


def _shape(events: int) -> BatchShape:
    """The legacy generator's typical batch, or `events` events of which 80% are sales."""
    if not events:
        return BatchShape()
    entities = events // 5
    stores, products = max(1, entities // 20), max(1, entities // 10)
    return BatchShape(
        stores=stores, products=products, orders=entities - stores - products, sales=(events - entities,) * 2
    )


def _new_batch_id(out: BatchSource, now: datetime) -> str:
    """manual__<now>, with a suffix when a file of that name exists already (two runs in one second)."""
    batch_id = readable_batch_id(MANUAL_PREFIX, now)
    candidate, n = batch_id, 1
    while out.holds(candidate):
        n += 1
        candidate = f"{batch_id}_{n}"
    return candidate


def cmd_generate(args: argparse.Namespace) -> int:
    """One batch whose ids are reserved from the ETL database's sequences, as the scheduled generator's are,
    and whose sales reference stores and products already loaded; so it loads without a reject."""
    fake = Faker()
    fake.seed_instance(args.seed)
    rng = random.Random(args.seed)
    try:
        out = destination(args.out)
    except InvalidSourceUrlError as err:
        print(f"etl generate: --out {err}", file=sys.stderr)
        return 2
    now = datetime.now(timezone.utc).replace(microsecond=0)
    batch_id = args.batch_id or _new_batch_id(out, now)
    created_at = now.replace(tzinfo=None)
    with ExitStack() as stack:
        ids: IdAllocator = SequentialIds()
        catalog = Catalog()
        conn = None
        if not args.no_database:
            conn = stack.enter_context(etl_database().connect())
            stack.enter_context(conn)  # one transaction: the ids reserved and the catalog read
        try:
            refuse_taken_batch_id(conn, out, batch_id)
        except BatchIdTakenError as err:
            print(f"etl generate: {err}", file=sys.stderr)
            return 1
        if conn is not None:
            ids, catalog = DatabaseIds(conn), load_catalog(conn)
        events = list(
            generate_events(
                fake=fake, rng=rng, ids=ids, catalog=catalog, created_at=created_at, shape=_shape(args.events)
            )
        )
    try:
        print(out.write_batch(batch_id, created_at, events))
    except BatchFileExistsError as err:  # written by someone else meanwhile
        print(f"etl generate: {err}", file=sys.stderr)
        return 1
    return 0


def cmd_generate_history(args: argparse.Namespace) -> int:
    end = date.fromisoformat(args.end) if args.end else datetime.now(timezone.utc).date() - timedelta(days=1)
    files = generate_history(
        Path(args.out), end_date=end, days=args.days, batches_per_day=args.batches_per_day, seed=args.seed
    )
    print(f"Wrote {len(files)} batch files to {args.out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    gen = sub.add_parser(
        "generate",
        help="write one batch file whose ids are reserved from the ETL database, as the scheduled generator does",
    )
    gen.add_argument(
        "--out",
        default=str(DEFAULT_SHARED_DATA_DIR),
        help="directory to write the file to, or s3://bucket/prefix/ (ETL_S3_ENDPOINT_URL: a server other "
        "than AWS; credentials from AWS's own chain)",
    )
    gen.add_argument(
        "--batch-id",
        default=None,
        help="batch id, also the file name (default: manual__<now, UTC>, e.g. manual__2026-11-30T11-54-37Z); "
        "an id whose file exists or that the database already records is refused",
    )
    gen.add_argument(
        "--events", type=int, default=0, help="total events of a large batch, 80%% sales; 0: a typical batch"
    )
    gen.add_argument(
        "--seed", type=int, default=None, help="random seed (default: a different batch each time)"
    )
    gen.add_argument(
        "--no-database",
        action="store_true",
        help="number ids from 1 and reference only the batch's own stores and products, without connecting "
        "to the ETL database (a file for another database, benchmarks)",
    )
    gen.set_defaults(func=cmd_generate)
    hist = sub.add_parser(
        "generate-history",
        help="write days of batches with a sales drop on the last day (ids from 1: for an empty database)",
    )
    hist.add_argument("--out", default=str(DEFAULT_SHARED_DATA_DIR), help="directory to write the files to")
    hist.add_argument("--days", type=int, default=9, help="how many days of history")
    hist.add_argument("--end", default=None, help="last day, YYYY-MM-DD (default: yesterday, UTC)")
    hist.add_argument("--batches-per-day", type=int, default=4, help="batch files per day")
    hist.add_argument("--seed", type=int, default=7, help="random seed (same seed, same files)")
    hist.set_defaults(func=cmd_generate_history)
