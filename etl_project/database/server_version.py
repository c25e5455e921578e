"""The PostgreSQL majors the platform supports, checked on the first connection of each process.

An older server fails here with one message naming the version found, rather than later inside a run on a
function it lacks.
"""

from __future__ import annotations

import psycopg2.extensions

#: Oldest major supported: every major the PostgreSQL project still supports (15 to 18) is tested.
MINIMUM_SERVER_VERSION = 150000


class UnsupportedServerError(RuntimeError):
    """The server is older than MINIMUM_SERVER_VERSION."""


def _major(version_num: int) -> str:
    return f"{version_num // 10000}.{version_num % 10000}"


def check_server_version(conn: psycopg2.extensions.connection) -> int:
    """Raise UnsupportedServerError on a server older than PostgreSQL 15; return its version number."""
    version = conn.server_version
    if version < MINIMUM_SERVER_VERSION:
        raise UnsupportedServerError(
            f"PostgreSQL {_major(version)} found; the platform needs PostgreSQL "
            f"{MINIMUM_SERVER_VERSION // 10000} or newer (15, 16, 17 and 18 are supported). "
            "Point ETL_DATABASE_URL at a newer server, or leave it unset to use the embedded one."
        )
    return version
