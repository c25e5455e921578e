"""The shared directory where batch files arrive (the stand-in for an object store)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from pydantic import Field

from etl_project.paths import DEFAULT_SHARED_DATA_DIR
from etl_project.printable import escaped_file_name, is_undecodable_name
from etl_project.schemas import invalid_batch_id_reason

BATCH_FILE_SUFFIX = ".csv"


class UnsafeBatchFileError(Exception):
    """The batch's file is not a regular file inside the shared directory."""


@dataclass(frozen=True)
class BatchFile:
    """A complete batch file seen in the directory listing."""

    batch_id: str
    name: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class DirectoryScan:
    """One listing of the shared directory: the batch files ready to load, the names skipped (with why), and the
    files whose names are not valid UTF-8 (`name` escaped, `K\\xe4se.csv`: such a name never goes into SQL)."""

    ready: list[BatchFile]
    skipped: list[str]
    undecodable: list[BatchFile]


class SharedDirectory(dg.ConfigurableResource):
    """Directory of `<batch_id>.csv` files: the generator writes there, the sensor and the loads read there."""

    path: str = Field(
        default=str(DEFAULT_SHARED_DATA_DIR),
        description="Directory of incoming batch files (ETL_SHARED_DATA_DIR).",
    )
    settle_seconds: float = Field(
        default=5.0,
        description="A file modified more recently than this is still being written and is left for later.",
    )

    @property
    def root(self) -> Path:
        return Path(self.path)

    def file_for_batch(self, batch_id: str) -> Path:
        """The batch's file, refusing anything that would read outside the directory."""
        reason = invalid_batch_id_reason(batch_id)
        if reason:
            raise UnsafeBatchFileError(f"{batch_id!r}: {reason}")
        path = self.root / f"{batch_id}{BATCH_FILE_SUFFIX}"
        if path.is_symlink():
            raise UnsafeBatchFileError(f"{path.name}: is a symbolic link; only regular files are loaded")
        return path

    def complete_batch_files(self, now: float | None = None) -> tuple[list[BatchFile], list[str]]:
        """The ready batch files and the names skipped, with why (`scan_batch_files` without the undecodable)."""
        scan = self.scan_batch_files(now)
        return scan.ready, scan.skipped

    def scan_batch_files(self, now: float | None = None) -> DirectoryScan:
        """List complete batch files in one directory scan; also the names skipped and why.

        Hidden files, other suffixes, symlinks and files modified within `settle_seconds` are not batches
        (yet). A complete file whose name is not valid UTF-8 is set apart with its name escaped: PostgreSQL
        cannot take the name, so it must not hold up the other files. Raises OSError when the directory cannot
        be listed.
        """
        cutoff_ns = int(((now if now is not None else time.time()) - self.settle_seconds) * 1e9)
        scan = DirectoryScan([], [], [])
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
                batch_id = name[: -len(BATCH_FILE_SUFFIX)]
                reason = invalid_batch_id_reason(batch_id)
                if reason:
                    scan.skipped.append(f"{escaped_file_name(name)}: {reason}")
                    continue
                scan.ready.append(BatchFile(batch_id, name, stat.st_size, stat.st_mtime_ns))
        return scan
