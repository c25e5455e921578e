"""The shared directory as a source: `<batch_id>.csv` files, counted once they have settled."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from etl_project.generator.events import Event, write_batch_file
from etl_project.loading import BatchObject, LocalBatchFile
from etl_project.printable import escaped_file_name, is_undecodable_name
from etl_project.schemas import invalid_batch_id_reason
from etl_project.sources.base import BATCH_FILE_SUFFIX, BatchFile, BatchSource, SourceScan


class DirectorySource(BatchSource):
    """A directory writable by the writers; a file modified within `settle_seconds` is still being written."""

    def __init__(self, root: Path, settle_seconds: float = 5.0):
        self.root = root
        self.settle_seconds = settle_seconds

    @property
    def location(self) -> str:
        return str(self.root)

    def batch_object(self, batch_id: str) -> BatchObject:
        reason = invalid_batch_id_reason(batch_id)
        return LocalBatchFile(
            self.root / f"{batch_id}{BATCH_FILE_SUFFIX}",
            directory_label=str(self.root),
            refused=f"{batch_id!r}: {reason}" if reason else None,
        )

    def holds(self, batch_id: str) -> bool:
        path = self.root / f"{batch_id}{BATCH_FILE_SUFFIX}"
        return path.exists() or path.is_symlink()

    def write_batch(self, batch_id: str, created_at: datetime, events: Iterable[Event]) -> str:
        return str(write_batch_file(self.root, batch_id, created_at, events))

    def scan(self, newest_known: str | None = None, now: float | None = None) -> SourceScan:
        """List complete batch files in one directory scan; also the names skipped and why.

        Hidden files, other suffixes, symlinks and files modified within `settle_seconds` are not batches
        (yet). A complete file whose name is not valid UTF-8 is set apart with its name escaped: PostgreSQL
        cannot take the name, so it must not hold up the other files. Raises OSError when the directory cannot
        be listed.
        """
        cutoff_ns = int(((now if now is not None else time.time()) - self.settle_seconds) * 1e9)
        scan = SourceScan([], [], [])
        with os.scandir(self.root) as entries:
            for entry in entries:
                name = entry.name
                if name.startswith(".") or not name.endswith(BATCH_FILE_SUFFIX):
                    continue
                if entry.is_symlink():
                    scan.skipped.append(f"{escaped_file_name(name)}: symbolic link, not loaded")
                    continue
                if not entry.is_file():
                    continue
                stat = entry.stat()
                if stat.st_mtime_ns > cutoff_ns:
                    continue
                if is_undecodable_name(name):
                    escaped = escaped_file_name(name)
                    scan.undecodable.append(
                        BatchFile(escaped[: -len(BATCH_FILE_SUFFIX)], escaped, stat.st_size, stat.st_mtime_ns)
                    )
                    continue
                scan.take(name, stat.st_size, stat.st_mtime_ns)
        return scan
