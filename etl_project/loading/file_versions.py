"""Which version of a batch file is loaded, and whether a file seen again holds anything new.

A file copied into the shared directory again byte for byte (a re-drop, a `touch`, a restore from a backup) has
a new modification time and the same content. Loading it again would gain nothing and, before ids were kept
across reloads, cost other batches their references; so a file whose SHA-256 equals that of its batch's loaded
version is not loaded again: the ledger records that it was seen again (`seen_again`, `last_seen_at`) and takes
its new modification time, so the file sensor does not look at it again. Only files whose size equals the loaded
version's are hashed: a file of another size has other content. A bucket's object is the same: put again with
the same bytes, it has a new ETag and last-modified time, and the same SHA-256.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import psycopg2.extensions

from etl_project.loading.batch_object import BatchObject, batch_object_of
from etl_project.store.processed_files import ObjectVersion, loaded_content, record_seen_again

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


def object_sha256(source: BatchObject) -> tuple[str, ObjectVersion]:
    """(SHA-256, version) of the batch's data, read once through one opened version, in constant memory."""
    digest = hashlib.sha256()
    with source.open() as opened:
        reader = opened.reader()
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
        return digest.hexdigest(), ObjectVersion(opened.size, opened.mtime_ns, opened.etag)


def seen_again_unchanged(
    conn: psycopg2.extensions.connection, batch_id: str, source: Path | BatchObject
) -> bool:
    """True when the file (or object) holds exactly the content loaded for its batch: it is then recorded as
    seen again (its new modification time, and ETag, with it) and must not be loaded. False when it must be
    loaded (new content, or no loaded version to compare with). Hashes it only when its size matches the
    loaded version's."""
    batch_object = batch_object_of(source)
    with conn, conn.cursor() as cur:
        loaded = loaded_content(cur, batch_id)
    if loaded is None:
        return False
    if isinstance(source, Path):  # as before: a path that is gone is an error here
        seen_size: int | None = source.stat().st_size
    else:
        version = batch_object.version()
        seen_size = version.size_bytes if version else None
    if loaded[1] != seen_size:
        return False
    checksum, seen = object_sha256(batch_object)
    if checksum != loaded[0]:
        return False
    with conn, conn.cursor() as cur:
        return record_seen_again(cur, batch_id, checksum, seen.size_bytes, seen.mtime_ns, seen.etag)
