"""How the instance's event log storage writes a Dagster event: in one transaction, planned events in bulk.

dagster-postgres commits an event's row, its `NOTIFY` and its index rows (the asset's row, tags, the check's
execution) separately: three commits, each waiting for a WAL flush, for every one of the 17 events of a loaded
batch. Creating a run of 167 batches wrote 846 planned events (one per asset and partition, and one per check
whose rows hold the whole partition range, serialized again for every partition): 3 s on a quiet machine, while
the runs created before it could already be loading. Here an event is one transaction (stored whole or not at
all), and the planned events of a run's creation one batch, written as Dagster's own batch of materialisations
is: the event rows in one insert, each asset's row from its last event, the check rows with the event
serialized once. And a loaded batch's events can be stored together (`events_stored_together`): its 5
materialisations in one insert and one transaction, then its 12 check evaluations in another, instead of 17
transactions of an insert, a `NOTIFY` and the index rows each.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import dagster as dg
import sqlalchemy as sa
from dagster import AssetKey, DagsterEventType, EventLogEntry, serialize_value
from sqlalchemy.engine import Connection

from etl_project import dagster_private as private

if TYPE_CHECKING:
    from dagster_postgres import PostgresEventLogStorage

    _Base = PostgresEventLogStorage
else:
    _Base = object

#: Dagster hands a run's planned events to `store_event_batch` only when this is set (in every process that
#: creates runs: the daemon, the webserver); each process using this storage sets it, unless set otherwise.
EVENT_BATCH_SIZE_VARIABLE = "DAGSTER_EVENT_BATCH_SIZE"
os.environ.setdefault(EVENT_BATCH_SIZE_VARIABLE, "1000")
_EVALUATION = DagsterEventType.ASSET_CHECK_EVALUATION
_EVALUATION_COLUMNS = (
    "asset_key",
    "check_name",
    "run_id",
    "partition",
    "execution_status",
    "evaluation_event",
    "evaluation_event_timestamp",
    "evaluation_event_storage_id",
    "materialization_event_storage_id",
)
#: The planned execution rows of a batch's evaluations, updated from arrays in one statement (compiled once,
#: whatever the number of rows), with the values dagster's `_update_asset_check_evaluation` sets.
_RECORD_EVALUATIONS = sa.text(
    """
    UPDATE asset_check_executions AS execution
    SET execution_status = evaluation.execution_status,
        evaluation_event = evaluation.evaluation_event,
        evaluation_event_timestamp = evaluation.evaluation_event_timestamp,
        evaluation_event_storage_id = evaluation.evaluation_event_storage_id,
        materialization_event_storage_id = evaluation.materialization_event_storage_id
    FROM unnest(
        CAST(:asset_key AS text[]), CAST(:check_name AS text[]), CAST(:run_id AS text[]),
        CAST(:partition AS text[]), CAST(:execution_status AS text[]), CAST(:evaluation_event AS text[]),
        CAST(:evaluation_event_timestamp AS timestamp[]), CAST(:evaluation_event_storage_id AS bigint[]),
        CAST(:materialization_event_storage_id AS bigint[])
    ) AS evaluation(
        asset_key, check_name, run_id, partition, execution_status, evaluation_event,
        evaluation_event_timestamp, evaluation_event_storage_id, materialization_event_storage_id
    )
    WHERE execution.asset_key = evaluation.asset_key
      AND execution.check_name = evaluation.check_name
      AND execution.run_id = evaluation.run_id
      AND execution.partition = evaluation.partition
    RETURNING execution.evaluation_event_storage_id
    """
)
_INDEXED = private.ASSET_EVENTS | private.ASSET_CHECK_EVENTS
_PLANNED = {DagsterEventType.ASSET_MATERIALIZATION_PLANNED, DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED}


@dataclass
class StoredTogether:
    """What an `events_stored_together` scope stored: each materialisation by asset and partition, as a check
    evaluation names its target (filled once the scope has ended; empty where the instance's storage stores
    events one by one)."""

    materializations: dict[
        tuple[AssetKey, str | None], private.AssetCheckEvaluationTargetMaterializationData
    ] = field(default_factory=dict)


def _evaluation_row(event: EventLogEntry, event_id: int, serialized: str) -> tuple[Any, ...]:
    """An evaluation's values for its planned execution row, as dagster's `_update_asset_check_evaluation` sets
    them (the timestamp in UTC without a zone, as it stores it)."""
    evaluation = event.get_dagster_event().asset_check_evaluation_data
    status = (
        private.AssetCheckExecutionRecordStatus.SUCCEEDED
        if evaluation.passed
        else private.AssetCheckExecutionRecordStatus.FAILED
    )
    target = evaluation.target_materialization_data
    return (
        evaluation.asset_key.to_string(),
        evaluation.check_name,
        event.run_id,
        evaluation.partition,
        status.value,
        serialized,
        datetime.fromtimestamp(event.timestamp, timezone.utc).replace(tzinfo=None),
        event_id,
        target.storage_id if target else None,
    )


@contextmanager
def events_stored_together(instance: dg.DagsterInstance) -> Iterator[StoredTogether]:
    """Store the events logged on this thread within the scope in one transaction when it ends, as one batch.

    For one loaded batch's events, which are written on the same thread that yields them: nothing reads them
    back before the scope ends. Any other storage stores them one by one, as usual."""
    storage = instance.event_log_storage
    if isinstance(storage, EventsInOneTransaction):
        with storage.stored_together() as stored:
            yield stored
    else:
        yield StoredTogether()


class EventsInOneTransaction(_Base):
    """Mixed in before dagster-postgres' event log storage."""

    def __init__(self, *args: Any, **kwargs: Any):
        self._event_transaction = threading.local()  # per thread: the connection storing its current event(s)
        self._tables_present: set[str] = set()
        super().__init__(*args, **kwargs)

    def has_table(self, table_name: str) -> bool:
        """Asked before storing every check evaluation and asset event: a catalog query each time (10 ms of
        a loaded batch). A table once present stays (a migration adds tables; none removes them)."""
        if table_name not in self._tables_present and super().has_table(table_name):
            self._tables_present.add(table_name)
        return table_name in self._tables_present

    def store_event(self, event: EventLogEntry) -> None:
        held = getattr(self._event_transaction, "held", None)
        if held is not None:  # within stored_together: stored when the scope ends
            held.append(event)
            return
        with self._one_transaction():
            super().store_event(event)

    @contextmanager
    def stored_together(self) -> Iterator[StoredTogether]:
        """The events stored on this thread within the scope are held, then stored in one transaction (see
        `events_stored_together`); also when the scope ends in an error, since Dagster counts them stored."""
        if getattr(self._event_transaction, "held", None) is not None:
            raise RuntimeError("events_stored_together does not nest")
        self._event_transaction.held = []
        stored = StoredTogether()
        try:
            yield stored
        finally:
            events, self._event_transaction.held = self._event_transaction.held, None
            if events:
                self._store_together(events, stored)

    def _store_together(self, events: Sequence[EventLogEntry], stored: StoredTogether) -> None:
        """The event rows in one insert (ids in the events' order), then their index rows as dagster-postgres'
        `store_event` writes them: the assets' tags, each asset's row from its last event of each kind (what the
        events one by one would have left), the checks' executions. The `NOTIFY` is left out, as Dagster's own
        batch write leaves it out (nothing listens to it)."""
        rows = [self._event_to_row(event) for event in events]  # each event serialized once, here
        with self._one_transaction():
            with self._connect() as conn:
                table = private.SqlEventLogStorageTable
                # one INSERT of every row, compiled once (SQLAlchemy's "insertmanyvalues"), ids in row order
                insert = table.insert().returning(table.c.id, sort_by_parameter_order=True)
                event_ids = [row[0] for row in conn.execute(insert, rows)]
            indexed = [
                (event, event_id, row["event"])
                for event, event_id, row in zip(events, event_ids, rows, strict=True)
                if event.is_dagster_event and event.get_dagster_event().event_type in _INDEXED
            ]
            asset_events = [
                (event, event_id)
                for event, event_id, _ in indexed
                if event.get_dagster_event().event_type not in private.ASSET_CHECK_EVENTS
            ]
            self._index_asset_events(asset_events, stored)
            evaluated = self._record_evaluations(
                [  # a runless evaluation has no planned row (Dagster inserts one), nor has an unpartitioned
                    # check one per partition: both are left to Dagster's own path, below
                    (e, i, serialized)
                    for e, i, serialized in indexed
                    if e.dagster_event_type == _EVALUATION
                    and e.run_id
                    and e.get_dagster_event().asset_check_evaluation_data.partition is not None
                ]
            )
            for event, event_id, _ in indexed:
                if event_id not in evaluated and event.dagster_event_type in private.ASSET_CHECK_EVENTS:
                    self.store_asset_check_event(event, event_id)

    def _index_asset_events(
        self, asset_events: Sequence[tuple[EventLogEntry, int]], stored: StoredTogether
    ) -> None:
        """The assets' tags and rows of the asset events (materialisations, planned ones, ...) just inserted."""
        keyed: list[tuple[EventLogEntry, int]] = []
        latest: dict[tuple[AssetKey, DagsterEventType], tuple[EventLogEntry, int]] = {}
        for event, event_id in asset_events:
            dagster_event = event.get_dagster_event()
            key = dagster_event.asset_key
            if key is None:
                continue
            keyed.append((event, event_id))
            latest[(key, dagster_event.event_type)] = (event, event_id)
            if dagster_event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
                stored.materializations[(key, dagster_event.partition)] = (
                    private.AssetCheckEvaluationTargetMaterializationData(
                        storage_id=event_id, run_id=event.run_id, timestamp=event.timestamp
                    )
                )
        if not keyed:
            return
        with self.index_transaction() as conn:
            self._store_asset_event_tags(conn, [e for e, _ in keyed], [i for _, i in keyed])
            for event, event_id in latest.values():
                self._store_asset_event(conn, event, event_id)

    def _record_evaluations(self, evaluations: Sequence[tuple[EventLogEntry, int, str]]) -> set[int]:
        """The check executions a run planned, updated with their evaluations in one statement (Dagster updates
        each on its own, serializing the event again); returns the event ids recorded. An evaluation without its
        planned row (none was planned) is left to Dagster's own path, which inserts one."""
        if not evaluations:
            return set()
        rows = [_evaluation_row(event, event_id, serialized) for event, event_id, serialized in evaluations]
        columns = {name: [row[n] for row in rows] for n, name in enumerate(_EVALUATION_COLUMNS)}
        with self.index_connection() as conn:
            return {row[0] for row in conn.execute(_RECORD_EVALUATIONS, columns)}

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        held = getattr(self._event_transaction, "held", None)
        if held is not None:  # Dagster's own batch, within stored_together: held with the rest, in order
            held.extend(events)
            return
        with self._one_transaction():
            if events and all(event.dagster_event_type in _PLANNED for event in events):
                self._store_together(events, StoredTogether())  # a run's planned events, at its creation
            else:
                super().store_event_batch(events)

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
            "execution_status": private.AssetCheckExecutionRecordStatus.PLANNED.value,
            "evaluation_event": serialize_value(event),
            "evaluation_event_timestamp": self._event_insert_timestamp(event),
            "evaluation_event_storage_id": event_id,
        }
        keys = subset.get_partition_keys() if subset else [None]
        with self.index_connection() as conn:
            conn.execute(
                private.AssetCheckExecutionsTable.insert(), [{**row, "partition": key} for key in keys]
            )

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
