"""What a load reads: a batch's file or bucket object, named, versioned and opened once.

The loader, the seen-again check and the quarantine know a batch's data only through `BatchObject` and the
`OpenedBatch` it opens, so they never ask where it lives: `LocalBatchFile` is a file of the shared directory
(a `Path` given to `load_batch` is wrapped in one), `etl_project.sources` has the bucket's object.
"""

from __future__ import annotations

import io
import os
from pathlib import Path, PurePath
from typing import Protocol

from etl_project.loading.batch_file import BatchFileError
from etl_project.loading.opened_file import OpenedBatchFile
from etl_project.store.processed_files import ObjectVersion


class UnsafeBatchFileError(Exception):
    """The batch's file is not a regular file inside the shared directory (or its id cannot name one)."""


class OpenedBatch(Protocol):
    """One version of a batch's data, open: every reader reads that version, each at its own offset."""

    @property
    def path(self) -> PurePath: ...  # its `name` is the file's (or object key's last part) in messages
    @property
    def size(self) -> int: ...
    @property
    def mtime_ns(self) -> int: ...
    @property
    def etag(self) -> str | None: ...
    def reader(self, start: int = 0, end: int | None = None) -> io.RawIOBase: ...
    def unchanged(self) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> OpenedBatch: ...
    def __exit__(self, *exc: object) -> None: ...


class BatchObject(Protocol):
    """A batch's data where it arrives, not opened yet."""

    @property
    def name(self) -> str: ...  # `<batch_id>.csv`: the ledger's filename
    def require(self) -> None:
        """Raise BatchFileError (nothing there) or UnsafeBatchFileError (not to be read) before a load."""
        ...

    def version(self) -> ObjectVersion | None:
        """The version there now; None when there is none (or no regular file)."""
        ...

    def open(self) -> OpenedBatch: ...


class _OpenedLocalFile(OpenedBatchFile):
    """OpenedBatchFile as an OpenedBatch: a file has no ETag."""

    etag: str | None = None

    def __enter__(self) -> _OpenedLocalFile:
        return self


class LocalBatchFile:
    """A batch file of the shared directory (or any path given to `load_batch`)."""

    def __init__(self, path: Path, directory_label: str | None = None, refused: str | None = None):
        self.path = path
        self._directory_label = directory_label or str(path.parent)
        self._refused = refused  # why its batch id cannot name a file, when it cannot

    @property
    def name(self) -> str:
        return self.path.name

    def require(self) -> None:
        if self._refused:
            raise UnsafeBatchFileError(self._refused)
        if self.path.is_symlink():
            raise UnsafeBatchFileError(f"{self.path.name}: is a symbolic link; only regular files are loaded")
        if not os.path.lexists(self.path):  # anything else there (a FIFO) is refused when opened
            raise BatchFileError(self.path, f"no such file in {self._directory_label}")

    def version(self) -> ObjectVersion | None:
        if not self.path.is_file():
            return None
        stat = self.path.lstat()
        return ObjectVersion(stat.st_size, stat.st_mtime_ns)

    def open(self) -> OpenedBatch:
        return _OpenedLocalFile(self.path)


def batch_object_of(source: Path | BatchObject) -> BatchObject:
    """`source` as a BatchObject: a Path is a local file."""
    return LocalBatchFile(source) if isinstance(source, Path) else source
