"""A load in a process of its own, without Dagster: the bucket benchmark's worker, from a file or a bucket.

`python -m etl_testkit.load_worker platform --file F --batch-id B [--source-url s3://bucket/prefix/]`, the
database URL in BENCH_DATABASE_URL, the S3 endpoint in ETL_S3_ENDPOINT_URL. Prints one JSON object, as
benchmarks/workers.py does, with the process's peak RSS (VmHWM) and its RSS before the load
(imports, and for a bucket boto3's client). The benchmarks' own worker imports Dagster through the
`benchmarks` package (~70 MB); this one holds what a run's load holds, less Dagster.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def _memory_mb(field: str) -> float | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("method", choices=["platform"])
    parser.add_argument("--file", type=Path, required=True)
    parser.add_argument("--batch-id", required=True)
    parser.add_argument("--source-url", help="load <batch-id>.csv from this s3://bucket/prefix/ instead")
    args = parser.parse_args(argv)
    import psycopg2

    from etl_project.loading import load_batch

    source: Any = args.file
    if args.source_url:
        import boto3

        from etl_project.sources import BucketLocation, BucketSource

        client = boto3.client("s3", endpoint_url=os.environ.get("ETL_S3_ENDPOINT_URL") or None)
        source = BucketSource(client, BucketLocation.parse(args.source_url)).batch_object(args.batch_id)
    rss_before = _memory_mb("VmRSS")
    start = time.perf_counter()
    conn = psycopg2.connect(os.environ["BENCH_DATABASE_URL"], application_name="etl_bench_load_worker")
    try:
        report = load_batch(conn, args.batch_id, source)
    finally:
        conn.close()
    json.dump(
        {
            "seconds": time.perf_counter() - start,
            "rss_before_work_mb": rss_before,
            "rows_read": report.rows_read,
            "rows_loaded": report.rows_loaded,
            "rows_rejected": report.rows_rejected,
            "parsed_by": report.parsed_by,
            "vm_hwm_mb": _memory_mb("VmHWM"),
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
