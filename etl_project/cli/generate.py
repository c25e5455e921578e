"""`etl generate` and `etl generate-history`: batch files written by hand, for trying the platform out."""

import argparse
import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from faker import Faker

from etl_project.generator.events import (
    BatchShape,
    Catalog,
    SequentialIds,
    generate_events,
    generate_history,
    write_batch_file,
)
from etl_project.paths import DEFAULT_SHARED_DATA_DIR


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


def register(sub: argparse._SubParsersAction) -> None:
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
