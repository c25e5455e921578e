"""Which finished runs must outlive the run retention: those holding what the UI shows as current.

Deleting a run deletes its event log, materialisations and check evaluations included. Measured on dagster
1.13.27: after deleting the run that holds a partition's only (or latest) materialisation, the event log no
longer lists the partition as materialised while the asset's cached status still does, until that cache is
rebuilt; the partition's page then shows a loaded batch with no materialisation. So a run is kept, whatever its
age, while it holds the latest materialisation of a registered partition or of an unpartitioned asset, the
latest evaluation of an unpartitioned check, or the latest evaluation of a check on a registered partition that
has no materialisation (a quarantined batch's reason).
"""

from collections.abc import Iterable, Iterator, Sequence

import dagster as dg

# Dagster's own table objects (no SQL text): storage ids -> run ids without deserialising every event.
from etl_project.dagster_private import BaseAssetGraph, SqlEventLogStorageTable

#: Storage ids looked up per query.
_CHUNK = 5000


def _chunks(values: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _run_ids_of_events(instance: dg.DagsterInstance, storage_ids: Iterable[int]) -> set[str]:
    """The runs of the given event-log rows (one indexed query per few thousand ids)."""
    storage = instance.event_log_storage
    table = SqlEventLogStorageTable
    found: set[str] = set()
    for chunk in _chunks(sorted(storage_ids), _CHUNK):
        with storage.index_connection() as conn:  # type: ignore[attr-defined]  # SQL storages only
            rows = conn.execute(table.select().with_only_columns(table.c.run_id).where(table.c.id.in_(chunk)))
            found.update(row[0] for row in rows)
    return found


def _registered(instance: dg.DagsterInstance, partitions_def: dg.PartitionsDefinition) -> set[str] | None:
    """The partitions that exist now (dynamic ones from the instance); None when every key counts."""
    if isinstance(partitions_def, dg.DynamicPartitionsDefinition) and partitions_def.name:
        return set(instance.get_dynamic_partitions(partitions_def.name))
    return None


def protected_run_ids(instance: dg.DagsterInstance, asset_graph: BaseAssetGraph) -> set[str]:
    """Every run holding the latest materialisation or check evaluation that the UI shows as current."""
    latest_events: set[int] = set()
    unpartitioned: list[dg.AssetKey] = []
    materialised_by_asset: dict[dg.AssetKey, set[str]] = {}
    for key in asset_graph.materializable_asset_keys:
        partitions_def = asset_graph.get(key).partitions_def
        if partitions_def is None:
            unpartitioned.append(key)
            continue
        latest = instance.event_log_storage.get_latest_storage_id_by_partition(
            key, dg.DagsterEventType.ASSET_MATERIALIZATION
        )
        registered = _registered(instance, partitions_def)
        kept = {p: i for p, i in latest.items() if registered is None or p in registered}
        latest_events.update(kept.values())
        materialised_by_asset[key] = set(kept)
    protected = _run_ids_of_events(instance, latest_events)
    for entry in instance.get_latest_materialization_events(unpartitioned).values():
        if entry is not None:
            protected.add(entry.run_id)
    protected |= _latest_check_runs(instance, asset_graph, materialised_by_asset)
    return protected


def _latest_check_runs(
    instance: dg.DagsterInstance,
    asset_graph: BaseAssetGraph,
    materialised_by_asset: dict[dg.AssetKey, set[str]],
) -> set[str]:
    storage = instance.event_log_storage
    check_keys = list(asset_graph.asset_check_keys)
    partitions_defs = {key: asset_graph.get(key.asset_key).partitions_def for key in check_keys}
    unpartitioned = [key for key in check_keys if partitions_defs[key] is None]
    runs = {
        summary.last_check_execution_record.run_id
        for summary in storage.get_asset_check_summary_records(unpartitioned).values()
        if summary.last_check_execution_record is not None
    }
    for check_key in check_keys:
        partitions_def = partitions_defs[check_key]
        registered = _registered(instance, partitions_def) if partitions_def else None
        if registered is None:
            continue
        unmaterialised = sorted(registered - materialised_by_asset.get(check_key.asset_key, set()))
        # Quarantined batches, a handful; a backlog registered but not loaded yet has no evaluation to keep.
        infos = storage.get_asset_check_partition_info([check_key], partition_keys=unmaterialised[:_CHUNK])
        runs.update(info.latest_planned_run_id for info in infos if info.latest_planned_run_id)
    return runs
