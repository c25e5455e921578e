"""One held connection to Dagster's storage for the run that loads batches, instead of one per event.

dagster-postgres opens a new PostgreSQL connection for every storage call (SQLAlchemy's NullPool, so that no
process accumulates connections), and a loaded batch records 5 materialisations and 12 check evaluations, each
costing three or four calls: profiled on 30 backlog batches in one run, 9.4 s of its 16.5 s were spent
connecting. The webserver avoids this with `optimize_for_webserver` (a pool of one connection); a load run is
one short-lived process, so it does the same for its own instance.
"""

import weakref

import dagster as dg

#: Connections beyond the held one, for threads that write at the same time (the step's log handlers).
_MAX_OVERFLOW = 4
_pooled: "weakref.WeakSet[object]" = weakref.WeakSet()


def hold_storage_connections(instance: dg.DagsterInstance) -> None:
    """Have this process's event-log and run storages keep one connection open (once per storage object)."""
    for storage in (instance.event_log_storage, instance.run_storage):
        if storage in _pooled or not getattr(storage, "postgres_url", None):
            continue  # already pooled, or not PostgreSQL (SQLite keeps its own file handle)
        # statement_timeout 0: no timeout, as without pooling (the webserver sets one for its queries)
        storage.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=_MAX_OVERFLOW)
        _pooled.add(storage)
