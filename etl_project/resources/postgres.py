"""The ETL PostgreSQL database as a Dagster resource."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import dagster as dg
import psycopg2
import psycopg2.extensions
from pydantic import Field

from etl_project.database.embedded import embedded_server_uri, ensure_database
from etl_project.database.migrations import apply_migrations
from etl_project.database.server_version import check_server_version

#: Database created on the embedded server for the event tables.
EMBEDDED_ETL_DATABASE = "etl"

_migrated: set[str] = set()

#: A large batch's staging table fits in memory instead of spilling through 8MB of temporary buffers (they are
#: allocated only as used, so small batches cost nothing).
SESSION_OPTIONS = "-c temp_buffers=256MB"


def session_options(timezone: str) -> str:
    """libpq `options` of every connection: SESSION_OPTIONS and the platform's time zone as TimeZone."""
    ZoneInfo(timezone)  # an unknown zone fails here, by name, rather than as a connection error
    escaped = timezone.replace("\\", "\\\\").replace(" ", "\\ ")
    return f"{SESSION_OPTIONS} -c TimeZone={escaped}"


#: `password=...` (or `sslpassword=`) in a libpq key=value string or a URL's query: quoted ('a\\'b') or up to a
#: space, `&` or `;`.
_PASSWORD_SETTING = re.compile(r"""(\b(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&;]*)""", re.IGNORECASE)


def redact_url(url: str) -> str:
    """The connection string with every password replaced by `***`, for logs, errors and the CLI.

    Covers the three places libpq takes a password: a URL's user info (`postgresql://u:pw@h/db`), a URL's
    query (`?password=pw`) and a key=value string (`password=pw host=h`).
    """
    parts = urlsplit(url) if "://" in url else None
    if parts is not None and parts.password is not None:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        url = urlunsplit(parts._replace(netloc=netloc))
    return _PASSWORD_SETTING.sub(lambda m: f"{m.group(1)}***", url)


class EtlDatabase(dg.ConfigurableResource):
    """PostgreSQL holding the event tables (schema `etl`) and the platform's bookkeeping (`utilities`).

    With no `url` the platform starts an embedded PostgreSQL under `.pgdata/`; migrations are applied on the
    first connection of each process, so every process sees the current schema.
    """

    url: str | None = Field(
        default=None,
        description="libpq URL of the ETL database (ETL_DATABASE_URL); empty means the embedded server.",
    )

    timezone: str = Field(
        default="UTC",
        description=(
            "The platform's time zone (ETL_TIMEZONE): timestamps written without an offset are read in it, "
            "and a sale counts on its day in it."
        ),
    )

    def resolved_url(self) -> str:
        if self.url:
            return self.url
        return ensure_database(embedded_server_uri(), EMBEDDED_ETL_DATABASE)

    @property
    def display_name(self) -> str:
        """Where the data goes, safe to show in logs and metadata."""
        return redact_url(self.resolved_url())

    @contextmanager
    def connect(self) -> Iterator[psycopg2.extensions.connection]:
        """A connection with an up-to-date schema; closed on exit. Transactions are the caller's."""
        url = self.resolved_url()
        conn = psycopg2.connect(url, application_name="etl_project", options=session_options(self.timezone))
        try:
            if url not in _migrated:
                check_server_version(conn)
                apply_migrations(conn)
                _migrated.add(url)
            yield conn
        finally:
            conn.close()
