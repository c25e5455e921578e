"""Dagster's PostgreSQL storages holding one connection per process instead of connecting for every call.

dagster-postgres opens a new connection for every storage call (SQLAlchemy's NullPool, so that no process
accumulates connections). A call costs two or three of them, and on a busy 2-core machine a connection took
about 70 ms to open: the daemon spent 6-8 s creating each run of a 500-file backlog (17 planned events covering
100 partitions), most of it connecting, and a load run 9.4 s of 16.5 s recording 30 batches. The webserver
avoids this with `optimize_for_webserver` (a pool of one connection); every process of the instance (daemon,
code server, run workers) does the same with these classes, named by dagster.local.yaml and
deploy/dagster.yaml. Connections stay bounded: one held per storage and process, up to `MAX_OVERFLOW` more
while threads of the process write at once (those are closed when returned).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage
from dagster_postgres.utils import pg_url_from_config
from typing_extensions import Self

from etl_project.event_log_writes import EventsInOneTransaction

#: Connections beyond the held one, for threads of the same process writing at the same time.
MAX_OVERFLOW = 4
#: A held connection is replaced after this long (a server-side idle timeout may have closed it).
POOL_RECYCLE_SECONDS = 3600
_pooled: weakref.WeakSet[object] = weakref.WeakSet()


def hold_connections(storage: object) -> None:
    """Make a PostgreSQL-backed storage keep a connection open (once; other storages are left alone)."""
    if storage in _pooled or not getattr(storage, "postgres_url", None):
        return  # already holding one, or not PostgreSQL (SQLite keeps its own file handle)
    # statement_timeout 0: no timeout, as without pooling (the webserver sets one for its queries)
    storage.optimize_for_webserver(  # type: ignore[attr-defined]  # the three PostgreSQL storages have it
        statement_timeout=0, pool_recycle=POOL_RECYCLE_SECONDS, max_overflow=MAX_OVERFLOW
    )
    _pooled.add(storage)


def _settings(config_value: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "postgres_url": pg_url_from_config(config_value),
        "should_autocreate_tables": config_value.get("should_autocreate_tables", True),
    }


class _HoldsConnection:
    """Mixed in before a dagster-postgres storage class: built from the instance's config as that class is, then
    holding a connection."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        hold_connections(self)

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Mapping[str, Any]) -> Self:
        return cls(inst_data=inst_data, **_settings(config_value))


class PooledPostgresRunStorage(_HoldsConnection, PostgresRunStorage):
    """dagster-postgres' run storage, holding a connection."""


class PooledPostgresEventLogStorage(_HoldsConnection, EventsInOneTransaction, PostgresEventLogStorage):
    """dagster-postgres' event log storage, holding a connection, storing each event (or batch of planned events)
    in one transaction (`etl_project.event_log_writes`)."""


class PooledPostgresScheduleStorage(_HoldsConnection, PostgresScheduleStorage):
    """dagster-postgres' schedule storage (sensor ticks and cursors), holding a connection."""
