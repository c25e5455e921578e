"""An S3-compatible bucket as a source: `<prefix><batch_id>.csv` objects, complete once listed.

S3 writes are atomic, so an object is there whole or not at all: no settle time. The listing says each
object's version (ETag, size, Last-Modified); the ledger, not a "since this key" cursor, decides what is new
(a cursor misses objects written with a key that sorts before it). Credentials come from AWS's own chain
(environment, profile, instance role) through the client given; nothing here reads or prints them.

Listing costs one request per thousand keys, so a tick does not list a large prefix whole. It lists (1) every
key after the greatest name the ledger holds, in full: new batches whose ids sort by time (`generated__<time>`,
`manual__<time>`) are seen on the next tick; and (2) the next part of a sweep through the whole prefix, which
resumes where the previous tick stopped: at least one page, then pages while the tick's SWEEP_SECONDS last, at
most SWEEP_KEYS keys. A replaced object, or a new one whose key sorts before the newest, is seen within one
sweep (100k objects: ~15 ticks on S3, whose pages take ~50-100 ms; ~100 on moto, whose pages take ~1 s
there). A prefix of a page or two is listed whole on every tick. The sweep's position is kept in the process (the code server's); after a restart
the sweep starts over, which delays nothing but those out-of-order changes.
"""

from __future__ import annotations

import io
import tempfile
import threading
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from etl_project.generator.events import BatchFileExistsError, Event, write_batch_rows
from etl_project.loading import BatchObject
from etl_project.schemas import invalid_batch_id_reason
from etl_project.sources.base import BATCH_FILE_SUFFIX, BatchSource, SourceScan
from etl_project.sources.bucket_object import BucketObject, error_code, last_modified_ns
from etl_project.sources.location import BucketLocation

#: A generated batch is rendered in memory up to this size, on a temporary file beyond it, then put at once.
_SPOOL_BYTES = 8 << 20
#: Keys per list request (S3's largest page).
PAGE_KEYS = 1000
#: Keys the sweep lists per tick at most (ten requests).
SWEEP_KEYS = 10_000
#: After its first page, the sweep lists more pages while it has taken less than this (a tick's budget).
SWEEP_SECONDS = 0.5

#: Where each prefix's sweep resumes (the last key it listed; "" from the start), per process.
_sweep_positions: dict[str, str] = {}
_sweep_lock = threading.Lock()


class BucketListingError(OSError):
    """The bucket cannot be listed (no such bucket, refused, unreachable); the message says which."""


class BucketSource(BatchSource):
    """Batch files under one prefix of one bucket, through one boto3 S3 client (thread-safe, shared)."""

    def __init__(self, client: Any, location: BucketLocation):
        self.client = client
        self.bucket_location = location

    @property
    def location(self) -> str:
        return self.bucket_location.url

    def batch_object(self, batch_id: str) -> BatchObject:
        reason = invalid_batch_id_reason(batch_id)
        refused = f"{batch_id!r}: {reason}" if reason else None
        return BucketObject(self.client, self.bucket_location, f"{batch_id}{BATCH_FILE_SUFFIX}", refused)

    def holds(self, batch_id: str) -> bool:
        return self.batch_object(batch_id).version() is not None

    def scan(self, newest_known: str | None = None) -> SourceScan:
        """`<batch_id>.csv` objects directly under the prefix, with their versions: all of them when the
        ledger knows no name yet, else those after `newest_known` and the sweep's next SWEEP_KEYS keys."""
        scan = SourceScan([], [], [])
        seen: set[str] = set()
        location = self.location
        try:
            if newest_known is None:
                self._list(scan, seen, "", None)
            else:
                self._list(scan, seen, self.bucket_location.key_of(newest_known), None)
                with _sweep_lock:
                    start = _sweep_positions.get(location, "")
                deadline = time.monotonic() + SWEEP_SECONDS
                last, complete = self._list(scan, seen, start, SWEEP_KEYS, deadline)
                with _sweep_lock:
                    _sweep_positions[location] = "" if complete else last
        except ClientError as err:
            raise BucketListingError(f"{error_code(err) or 'refused'}: {err}") from err
        except BotoCoreError as err:
            raise BucketListingError(str(err)) from err
        return scan

    def _list(
        self,
        scan: SourceScan,
        seen: set[str],
        start_after: str,
        limit: int | None,
        deadline: float | None = None,
    ) -> tuple[str, bool]:
        """List keys after `start_after` ("" from the start) into `scan`: all of them, or (with `limit`) pages
        until `limit` keys or, after the first page, `deadline` (time.monotonic()); returns the last key listed
        and whether the listing reached the end of the prefix."""
        prefix = self.bucket_location.prefix
        request: dict[str, Any] = {
            "Bucket": self.bucket_location.bucket,
            "Prefix": prefix,
            "Delimiter": "/",
            "MaxKeys": PAGE_KEYS,
        }
        if start_after:
            request["StartAfter"] = start_after
        listed, last = 0, start_after
        while True:
            page = self.client.list_objects_v2(**request)
            for entry in page.get("Contents", []):
                key = last = entry["Key"]
                listed += 1
                if key not in seen:
                    seen.add(key)
                    self._take(scan, entry, key[len(prefix) :])
            for folder in page.get("CommonPrefixes", []):  # deeper "folders": not batches
                last, listed = max(last, folder["Prefix"]), listed + 1
            if not page.get("IsTruncated"):
                return last, True
            out_of_time = deadline is not None and time.monotonic() >= deadline
            if limit is not None and (listed >= limit or out_of_time):
                return last, False
            request["ContinuationToken"] = page["NextContinuationToken"]
            request.pop("StartAfter", None)

    @staticmethod
    def _take(scan: SourceScan, entry: dict[str, Any], name: str) -> None:
        if name.startswith(".") or not name.endswith(BATCH_FILE_SUFFIX):
            return
        scan.take(name, entry["Size"], last_modified_ns(entry["LastModified"]), entry["ETag"])

    def write_batch(self, batch_id: str, created_at: datetime, events: Iterable[Event]) -> str:
        """Put `<prefix><batch_id>.csv` with `If-None-Match: *`: S3 refuses to replace an existing object."""
        reason = invalid_batch_id_reason(batch_id)
        if reason:
            raise ValueError(f"batch id {batch_id!r} cannot name a file: {reason}")
        key = self.bucket_location.key_of(f"{batch_id}{BATCH_FILE_SUFFIX}")
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as body:
            text = io.TextIOWrapper(body, encoding="utf-8", newline="")  # type: ignore[type-var]
            write_batch_rows(text, batch_id, created_at, events)
            text.flush()
            text.detach()
            body.seek(0)
            try:
                self.client.put_object(
                    Bucket=self.bucket_location.bucket,
                    Key=key,
                    Body=body,
                    ContentType="text/csv",
                    IfNoneMatch="*",
                )
            except ClientError as err:
                if error_code(err) in {"PreconditionFailed", "412", "ConditionalRequestConflict"}:
                    raise BatchFileExistsError(
                        f"{batch_id}{BATCH_FILE_SUFFIX} exists already in {self.location}: a generator never "
                        "overwrites a batch file; choose another batch id"
                    ) from err
                raise
        return f"s3://{self.bucket_location.bucket}/{key}"
