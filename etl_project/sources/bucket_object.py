"""One batch object of a bucket, opened at one version (its ETag) and streamed in ranged GETs.

A load reads the object several times at once (the header, the SHA-256, each COPY part, each with its own
position), like a file opened once and read with pread: each reader asks for byte ranges, a window at a time,
never the whole object, and every GET carries `If-Match: <the ETag seen when opened>`. An object replaced
while it is read fails that condition (412) and the load stops with `SourceReadError`, instead of mixing two
versions.

That failure, and a store that does not answer, raise `SourceReadError` (transient: the step's retry reads the
object as it is then), never `BatchFileError`: a quarantine would record the new version as unreadable.
"""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import PurePosixPath
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from etl_project.loading import (
    BatchFileError,
    ObjectVersion,
    PositionedReader,
    SourceReadError,
    UnsafeBatchFileError,
)
from etl_project.sources.location import BucketLocation

#: Bytes asked for by one ranged GET: memory stays flat (the body is read in pieces) and a reader that stops
#: early (the header, the quoting-style probe) leaves little unread on the wire.
WINDOW_BYTES = 16 << 20
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def last_modified_ns(moment: datetime) -> int:
    """An object's Last-Modified as nanoseconds since the epoch (exact: no float on the way)."""
    delta = moment.astimezone(timezone.utc) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def is_missing(err: ClientError) -> bool:
    return error_code(err) in {"404", "NoSuchKey", "NotFound"}


class BucketObject:
    """`<prefix><batch_id>.csv` in the bucket: a `BatchObject` for the loader."""

    def __init__(self, client: Any, location: BucketLocation, name: str, refused: str | None = None):
        self._client = client
        self._location = location
        self.name = name
        self.key = location.key_of(name)
        self._refused = refused

    def _head(self) -> dict[str, Any] | None:
        try:
            head: dict[str, Any] = self._client.head_object(Bucket=self._location.bucket, Key=self.key)
        except ClientError as err:
            if is_missing(err):
                return None
            raise SourceReadError(
                f"{self.name}: {error_code(err) or 'refused'} from {self._location.url}"
            ) from err
        except BotoCoreError as err:
            raise SourceReadError(f"{self.name}: {err}") from err
        return head

    def require(self) -> None:
        if self._refused:
            raise UnsafeBatchFileError(self._refused)
        if self._head() is None:
            raise BatchFileError(PurePosixPath(self.name), f"no such object in {self._location.url}")

    def version(self) -> ObjectVersion | None:
        head = self._head()
        if head is None:
            return None
        return ObjectVersion(head["ContentLength"], last_modified_ns(head["LastModified"]), head["ETag"])

    def open(self) -> OpenedBucketObject:
        if self._refused:
            raise UnsafeBatchFileError(self._refused)
        return OpenedBucketObject(self._client, self._location, self.name, self._head())


class OpenedBucketObject:
    """The object at the version it had when opened; an `OpenedBatch` for the loader."""

    def __init__(self, client: Any, location: BucketLocation, name: str, head: dict[str, Any] | None):
        self.path = PurePosixPath(name)
        if head is None:
            raise BatchFileError(self.path, f"no such object in {location.url}")
        self._client = client
        self._bucket = location.bucket
        self._key = location.key_of(name)
        self.size: int = head["ContentLength"]
        self.mtime_ns = last_modified_ns(head["LastModified"])
        self.etag: str | None = head["ETag"]

    def reader(self, start: int = 0, end: int | None = None) -> io.RawIOBase:
        return _RangeReader(self, start, self.size if end is None else min(end, self.size))

    def unchanged(self) -> bool:
        """Whether the object still has the ETag it had when opened."""
        try:
            head = self._client.head_object(Bucket=self._bucket, Key=self._key)
        except ClientError as err:
            if is_missing(err):
                return False
            raise
        return bool(head["ETag"] == self.etag)

    def get_range(self, start: int, stop: int) -> Any:
        """The streaming body of bytes [start, stop) of this version (`If-Match` its ETag)."""
        try:
            answer = self._client.get_object(
                Bucket=self._bucket, Key=self._key, Range=f"bytes={start}-{stop - 1}", IfMatch=self.etag
            )
        except ClientError as err:
            if error_code(err) in {"PreconditionFailed", "412"} or is_missing(err):
                raise SourceReadError(
                    f"{self.path.name}: replaced or deleted while it was read; the version there now is read next"
                ) from err
            raise SourceReadError(f"{self.path.name}: {error_code(err) or 'refused'}") from err
        except BotoCoreError as err:
            raise SourceReadError(f"{self.path.name}: {err}") from err
        return answer["Body"]

    def close(self) -> None:
        """Nothing stays open between reads: each reader closes its own body."""

    def __enter__(self) -> OpenedBucketObject:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _RangeReader(PositionedReader):
    """Bytes [start, end) of the opened object, with a position of its own, fetched a window at a time."""

    def __init__(self, opened: OpenedBucketObject, start: int, end: int):
        super().__init__(start, end)
        self._end: int = end
        self._opened = opened
        self._body: Any = None
        self._body_at = 0  # the position the open body's next byte is at
        self._body_stop = 0

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self._end - self.position)
        if want <= 0:
            return 0
        if self._body is None or self._body_at != self.position:
            self._drop_body()
            self._body_stop = min(self._end, self.position + WINDOW_BYTES)
            self._body = self._opened.get_range(self.position, self._body_stop)
            self._body_at = self.position
        data = self._body.read(min(want, self._body_stop - self.position))
        if not data:
            self._drop_body()
            raise SourceReadError(f"{self._opened.path.name}: the connection to the bucket ended early")
        buffer[: len(data)] = data
        self.position += len(data)
        self._body_at += len(data)
        if self._body_at >= self._body_stop:
            self._drop_body()
        return len(data)

    def _drop_body(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None

    def close(self) -> None:
        self._drop_body()
        super().close()
