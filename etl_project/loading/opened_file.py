"""A batch file opened once, safely, and read through that one descriptor by every part of a load.

The shared directory is writable by others: a name checked once can be swapped for a symlink or a FIFO before
it is opened again. So the file is opened once, with O_NOFOLLOW (a symlink is refused, not followed) and
O_NONBLOCK (opening a FIFO does not wait for a writer), checked with fstat to be a regular file, and every
read (header, hash, the COPY parts, the csv reader) goes through `os.pread` on that descriptor, each reader at
its own offset, so parallel readers never share a file position.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from pathlib import Path
from typing import Any

from etl_project.loading.batch_file import BatchFileError

#: Bytes asked for per read.
READ_BYTES = 1 << 20


class OpenedBatchFile:
    """One open descriptor of a regular batch file; closed by `close()` or the `with` block."""

    def __init__(self, path: Path):
        self.path = path
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        try:
            self.fd = os.open(path, flags)
        except OSError as err:
            raise BatchFileError(path, _open_problem(err)) from err
        try:
            opened = os.fstat(self.fd)
            if not stat.S_ISREG(opened.st_mode):
                raise BatchFileError(path, "not a regular file (a FIFO, device or directory); it is not read")
            os.set_blocking(self.fd, True)  # reads of a regular file never block for long; keep them simple
        except BaseException:
            os.close(self.fd)
            raise
        self.size = opened.st_size
        self.mtime_ns = opened.st_mtime_ns

    @property
    def identity(self) -> tuple[int, int]:
        """(size, modification time) as opened: with the name, what makes this version of the file."""
        return self.size, self.mtime_ns

    def unchanged(self) -> bool:
        """Whether the file still has the size and modification time it had when opened."""
        now = os.fstat(self.fd)
        return (now.st_size, now.st_mtime_ns) == self.identity

    def reader(self, start: int = 0, end: int | None = None) -> RangeReader:
        """A binary stream of bytes [start, end) (end: the end of the file), with its own position."""
        return RangeReader(self.fd, start, end)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> OpenedBatchFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_problem(err: OSError) -> str:
    if err.errno == errno.ELOOP:
        return "is a symbolic link; only regular files are loaded"
    if err.errno == errno.ENOENT:
        return "no such file"
    return f"cannot be opened: {err.strerror or err}"


class PositionedReader(io.RawIOBase):
    """A seekable reader of bytes [start, end) of something read by offset (a descriptor, an object's ranges):
    its position is its own. Subclasses read in `readinto`; `end` None means the source's current size."""

    def __init__(self, start: int = 0, end: int | None = None):
        self.position = start
        self._end = end

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self.position
        elif whence == io.SEEK_END:
            offset += self._end if self._end is not None else self._size()
        self.position = offset
        return offset

    def tell(self) -> int:
        return self.position

    def _size(self) -> int:
        raise io.UnsupportedOperation("the end of this reader is not known")


class RangeReader(PositionedReader):
    """Bytes [start, end) of a descriptor read with os.pread: its position is its own, not the descriptor's."""

    def __init__(self, fd: int, start: int = 0, end: int | None = None):
        super().__init__(start, end)
        self._fd = fd

    def _size(self) -> int:
        return os.fstat(self._fd).st_size

    def readinto(self, buffer: Any) -> int:
        want = len(buffer)
        if self._end is not None:
            want = min(want, max(0, self._end - self.position))
        if want <= 0:
            return 0
        data = os.pread(self._fd, want, self.position)
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)
