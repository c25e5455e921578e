"""How the instance's event log storage writes a Dagster event: in one transaction, planned events in bulk.

dagster-postgres commits an event's row, its `NOTIFY` and its index rows (the asset's row, tags, the check's
execution) separately: three commits, each waiting for a WAL flush, for every one of the 17 events of a loaded
batch. Creating a run of 167 batches wrote 846 planned events (one per asset and partition, and one per check
whose rows hold the whole partition range, serialized again for every partition): 3 s on a quiet machine, while
the runs created before it could already be loading. Here an event is one transaction (stored whole or not at
all), and the planned events of a run's creation one batch, written as Dagster's own batch of materialisations
is: the event rows in one insert, each asset's row from its last event, the check rows with the event
serialized once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from dagster import AssetKey, DagsterEventType, EventLogEntry, serialize_value
from sqlalchemy.engine import Connection

from etl_project.dagster_private import (
    AssetCheckExecutionRecordStatus,
    AssetCheckExecutionsTable,
    SqlEventLogStorageTable,
)

if TYPE_CHECKING:
    from dagster_postgres import PostgresEventLogStorage

    _Base = PostgresEventLogStorage
else:
    _Base = object

#: Dagster hands a run's planned events to `store_event_batch` only when this is set (in every process that
#: creates runs: the daemon, the webserver); each process using this storage sets it, unless set otherwise.
EVENT_BATCH_SIZE_VARIABLE = "DAGSTER_EVENT_BATCH_SIZE"
os.environ.setdefault(EVENT_BATCH_SIZE_VARIABLE, "1000")
_PLANNED = {DagsterEventType.ASSET_MATERIALIZATION_PLANNED, DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED}


class EventsInOneTransaction(_Base):
    """Mixed in before dagster-postgres' event log storage."""

    def __init__(self, *args: Any, **kwargs: Any):
        self._event_transaction = threading.local()  # per thread: the connection storing its current event(s)
        super().__init__(*args, **kwargs)

    def store_event(self, event: EventLogEntry) -> None:
        with self._one_transaction():
            super().store_event(event)

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        with self._one_transaction():
            if events and all(event.dagster_event_type in _PLANNED for event in events):
                self._store_planned_events(events)
            else:
                super().store_event_batch(events)

    def _store_planned_events(self, events: Sequence[EventLogEntry]) -> None:
        """The events a run plans at its creation: their rows in one insert, each check's planned executions, and
        the asset's row from the asset's last event (last run and timestamp: what each event would have set).
        Planned events carry no tags, and nothing listens to the `NOTIFY` (kept by dagster-postgres only for
        older versions), which its own batch of materialisations leaves out as well."""
        with self._connect() as conn:
            statement = self.prepare_insert_event_batch(events).returning(SqlEventLogStorageTable.c.id)
            event_ids = [row[0] for row in conn.execute(statement)]
        latest: dict[AssetKey, tuple[EventLogEntry, int]] = {}
        for event, event_id in zip(events, event_ids, strict=True):
            dagster_event = event.get_dagster_event()
            if dagster_event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED:
                self.store_asset_check_event(event, event_id)
            elif dagster_event.asset_key is not None:
                latest[dagster_event.asset_key] = (event, event_id)
        for event, event_id in latest.values():
            self.store_asset_event(event, event_id)

    def _store_asset_check_evaluation_planned(self, event: EventLogEntry, event_id: int | None) -> None:
        """The rows Dagster writes for a check a run plans (one per partition of the run, each holding the
        planned event), the event serialized once instead of once per row: it holds the run's whole partition
        range, so a run of 167 batches serialized 167 keys 167 times for each of its 11 checks."""
        planned = event.get_dagster_event().asset_check_planned_data
        subset = planned.partitions_subset
        row = {
            "asset_key": planned.asset_key.to_string(),
            "check_name": planned.check_name,
            "run_id": event.run_id,
            "execution_status": AssetCheckExecutionRecordStatus.PLANNED.value,
            "evaluation_event": serialize_value(event),
            "evaluation_event_timestamp": self._event_insert_timestamp(event),
            "evaluation_event_storage_id": event_id,
        }
        keys = subset.get_partition_keys() if subset else [None]
        with self.index_connection() as conn:
            conn.execute(AssetCheckExecutionsTable.insert(), [{**row, "partition": key} for key in keys])

    @contextmanager
    def _one_transaction(self) -> Iterator[None]:
        if getattr(self._event_transaction, "connection", None) is not None:
            yield  # the events of a batch share its transaction
            return
        with super()._connect() as conn:
            # the engine autocommits each statement (AUTOCOMMIT); a transaction needs another isolation level
            conn = conn.execution_options(isolation_level="READ COMMITTED")
            with conn.begin():
                self._event_transaction.connection = conn
                try:
                    yield
                finally:
                    self._event_transaction.connection = None

    def _connect(self) -> AbstractContextManager[Connection]:
        """Every storage call made while storing an event (its row, index rows, check execution) shares its
        transaction: dagster-postgres asks for a connection for each."""
        current = getattr(self._event_transaction, "connection", None)
        return nullcontext(current) if current is not None else super()._connect()
