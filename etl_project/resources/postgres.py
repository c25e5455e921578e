"""The ETL PostgreSQL database as a Dagster resource."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import dagster as dg
import psycopg2
import psycopg2.extensions
from pydantic import Field

from etl_project.database.embedded import embedded_server_uri, ensure_database
from etl_project.database.migrations import apply_migrations

#: Database created on the embedded server for the event tables.
EMBEDDED_ETL_DATABASE = "etl"

_migrated: set[str] = set()

#: A large batch's staging table fits in memory instead of spilling through 8MB of temporary buffers (they are
#: allocated only as used, so small batches cost nothing).
SESSION_OPTIONS = "-c temp_buffers=256MB"


def redact_url(url: str) -> str:
    """The URL with any password replaced, for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


class EtlDatabase(dg.ConfigurableResource):
    """PostgreSQL holding the event tables (schema `etl`) and the platform's bookkeeping (`utilities`).

    With no `url` the platform starts an embedded PostgreSQL under `.pgdata/`; migrations are applied on the
    first connection of each process, so every process sees the current schema.
    """

    url: str | None = Field(
        default=None,
        description="libpq URL of the ETL database (ETL_DATABASE_URL); empty means the embedded server.",
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
        conn = psycopg2.connect(url, application_name="etl_project", options=SESSION_OPTIONS)
        try:
            if url not in _migrated:
                apply_migrations(conn)
                _migrated.add(url)
            yield conn
        finally:
            conn.close()
