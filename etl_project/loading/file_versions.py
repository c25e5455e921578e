"""Which version of a batch file is loaded, and whether a file seen again holds anything new.

A file copied into the shared directory again byte for byte (a re-drop, a `touch`, a restore from a backup) has
a new modification time and the same content. Loading it again would gain nothing and, before ids were kept
across reloads, cost other batches their references; so a file whose SHA-256 equals that of its batch's loaded
version is not loaded again: the ledger records that it was seen again (`seen_again`, `last_seen_at`) and takes
its new modification time, so the file sensor does not look at it again. Only files whose size equals the loaded
version's are hashed: a file of another size has other content.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import psycopg2.extensions

from etl_project.store.processed_files import loaded_content, record_seen_again

#: Bytes read at a time while hashing: large enough for speed, small enough for flat memory.
_CHUNK = 1 << 20


def file_sha256(path: Path) -> tuple[str, int, int]:
    """(SHA-256, size, modification time) of the file, read once through one descriptor that never follows a
    symlink; raises OSError for anything but a regular file."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise OSError(f"{path.name} is not a regular file")
        digest = hashlib.sha256()
        while chunk := os.read(fd, _CHUNK):
            digest.update(chunk)
        return digest.hexdigest(), status.st_size, status.st_mtime_ns
    finally:
        os.close(fd)


def seen_again_unchanged(conn: psycopg2.extensions.connection, batch_id: str, path: Path) -> bool:
    """True when the file holds exactly the content loaded for its batch: it is then recorded as seen again (its
    new modification time with it) and must not be loaded. False when it must be loaded (new content, or no
    loaded version to compare with). Hashes the file only when its size matches the loaded version's."""
    with conn, conn.cursor() as cur:
        loaded = loaded_content(cur, batch_id)
    if loaded is None or loaded[1] != path.stat().st_size:
        return False
    checksum, size, mtime_ns = file_sha256(path)
    if checksum != loaded[0]:
        return False
    with conn, conn.cursor() as cur:
        return record_seen_again(cur, batch_id, checksum, size, mtime_ns)
