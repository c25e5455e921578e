"""A source of batch files: what the sensor lists, the loader reads and a generator writes, wherever it is."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from etl_project.generator.events import Event
from etl_project.loading import BatchObject
from etl_project.printable import escaped_file_name
from etl_project.schemas import invalid_batch_id_reason

BATCH_FILE_SUFFIX = ".csv"


@dataclass(frozen=True)
class BatchFile:
    """A complete batch seen in a listing, with its version: size, modification time and (an object) ETag."""

    batch_id: str
    name: str
    size: int
    mtime_ns: int
    etag: str | None = None


@dataclass(frozen=True)
class SourceScan:
    """One listing: the batch files ready to load, the names skipped (with why), and the files whose names
    are not valid UTF-8 (`name` escaped, `K\\xe4se.csv`: such a name never goes into SQL)."""

    ready: list[BatchFile]
    skipped: list[str]
    undecodable: list[BatchFile]

    def take(self, name: str, size: int, mtime_ns: int, etag: str | None = None) -> None:
        """File `name` (a `<batch_id>.csv`) as ready, or as skipped with why when its batch id is invalid."""
        batch_id = name[: -len(BATCH_FILE_SUFFIX)]
        reason = invalid_batch_id_reason(batch_id)
        if reason:
            self.skipped.append(f"{escaped_file_name(name)}: {reason}")
        else:
            self.ready.append(BatchFile(batch_id, name, size, mtime_ns, etag))


class BatchSource(ABC):
    """Where `<batch_id>.csv` files arrive; every kind behaves the same towards the ledger."""

    @property
    @abstractmethod
    def location(self) -> str:
        """Where it is, for messages (a path or `s3://bucket/prefix/`; never a credential)."""

    @abstractmethod
    def scan(self, newest_known: str | None = None) -> SourceScan:
        """The complete batch files there now; raises OSError when the source cannot be listed.

        `newest_known`: the greatest file name the ledger holds. A source whose listing costs a request per
        thousand names (a bucket) may list past it in full and the rest a part at a time (BucketSource); a
        directory lists everything anyway."""

    @abstractmethod
    def batch_object(self, batch_id: str) -> BatchObject:
        """The batch's data, to check, version and open (an invalid id is refused when required)."""

    @abstractmethod
    def holds(self, batch_id: str) -> bool:
        """Whether the batch's file is there (a generator never overwrites one)."""

    @abstractmethod
    def write_batch(self, batch_id: str, created_at: datetime, events: Iterable[Event]) -> str:
        """Publish a new batch file, complete at once, never over an existing one (BatchFileExistsError);
        returns where it was written."""
