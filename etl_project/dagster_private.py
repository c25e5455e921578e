"""The only imports of Dagster's private modules (`dagster._...`), each with the reason no public API does.

Pinned Dagster (1.13.27): a Dagster upgrade that moves one of these fails here, at import, in one place.
"""

# The cron arithmetic Dagster's scheduler itself uses: a day's sales verdict is "due" at the first scheduled
# tick after the day ends, and computing it with another cron library could disagree with the schedule by a
# tick (DST, day-of-week rules). Dagster exports no cron iterator.
# The materialisation an AssetCheckEvaluation judged: not exported at the top level, yet needed to build an
# evaluation per partition of a range run (Dagster's own AssetCheckResult fills it in the same way).
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

# What Dagster's last-update freshness check records (its metadata keys and its description): a load run evaluates
# the freshness checks of the assets it just updated with the same result the check itself would give, so the UI
# does not list them as "Not Evaluated" after every batch (the check's own sensor evaluates them only when due).
from dagster._core.definitions.asset_checks.asset_check_factories.freshness_checks.last_update import (
    construct_description as freshness_description,
)
from dagster._core.definitions.asset_checks.asset_check_factories.utils import (
    FRESH_UNTIL_METADATA_KEY,
    FRESHNESS_PARAMS_METADATA_KEY,
    LAST_UPDATED_TIMESTAMP_METADATA_KEY,
    LOWER_BOUND_DELTA_PARAM_KEY,
    LOWER_BOUND_TIMESTAMP_METADATA_KEY,
    TIMEZONE_PARAM_KEY,
)

# The asset graph a repository resolves to (a type only): housekeeping asks it which assets and checks exist,
# so that it never deletes a run holding what the UI shows as current.
from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph

# The tags that carry an asset's data version and provenance: a load run records its refresh of store_daily_sales
# as a runtime materialisation, which must carry the data version sales_drop_check's automation condition
# compares, and the provenance (code version, each dependency's data version and latest event) Dagster records
# for its own materialisations; without provenance the UI calls the asset "Unsynced" for every dependency
# partition never materialised (a quarantined batch). No public API builds these tags for an event.
from dagster._core.definitions.data_version import (
    CODE_VERSION_TAG,
    DATA_VERSION_IS_USER_PROVIDED_TAG,
    DATA_VERSION_TAG,
    DEFAULT_DATA_VERSION,
    NULL_EVENT_POINTER,
    extract_data_version_from_entry,
    get_input_data_version_tag,
    get_input_event_pointer_tag,
)

# Which events the event log storage indexes (asset rows and tags, check executions): the storage writes a
# batch's events together (event_log_writes.py) and indexes each as dagster-postgres' own `store_event` would.
from dagster._core.events import ASSET_CHECK_EVENTS, ASSET_EVENTS

# The origin and instance reference of a run container: the pinned run launcher of the compose deployment
# (deployment.py) builds them itself instead of trusting a run's stored origin.
from dagster._core.instance.ref import InstanceRef
from dagster._core.origin import DEFAULT_DAGSTER_ENTRY_POINT

# The tick logs of sensors and schedules (storage/<repository>/<sensor>/<tick id>.err|.out): Dagster's tick
# retention deletes the ticks but not these files, so housekeeping does (defs/operations/tick_logs.py); only
# the local compute-log manager exposes a tick log's file, and the tick retention's settings name statuses.
from dagster._core.scheduler.instigation import InstigatorType, TickStatus

# The status of a planned check execution: the event log storage writes a run's planned check rows itself, in
# bulk (event_log_writes.py), with the value dagster-postgres would write.
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.compute_log_manager import ComputeIOType

# The event log's and the check executions' tables: housekeeping finds each partition's latest materialisation
# in one query (no public API lists them for 100k partitions), and deletes the check-execution rows of a deleted
# run, which `DagsterInstance.delete_run` leaves behind forever.
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, SqlEventLogStorageTable
from dagster._core.storage.local_compute_log_manager import IO_TYPE_EXTENSION, LocalComputeLogManager
from dagster._utils.schedules import cron_string_iterator

__all__ = [
    "ASSET_CHECK_EVENTS",
    "ASSET_EVENTS",
    "CODE_VERSION_TAG",
    "DATA_VERSION_IS_USER_PROVIDED_TAG",
    "AssetCheckExecutionRecordStatus",
    "DATA_VERSION_TAG",
    "DEFAULT_DAGSTER_ENTRY_POINT",
    "DEFAULT_DATA_VERSION",
    "FRESHNESS_PARAMS_METADATA_KEY",
    "FRESH_UNTIL_METADATA_KEY",
    "IO_TYPE_EXTENSION",
    "LAST_UPDATED_TIMESTAMP_METADATA_KEY",
    "LOWER_BOUND_DELTA_PARAM_KEY",
    "LOWER_BOUND_TIMESTAMP_METADATA_KEY",
    "NULL_EVENT_POINTER",
    "AssetCheckEvaluationTargetMaterializationData",
    "AssetCheckExecutionsTable",
    "BaseAssetGraph",
    "ComputeIOType",
    "InstanceRef",
    "InstigatorType",
    "LocalComputeLogManager",
    "SqlEventLogStorageTable",
    "TIMEZONE_PARAM_KEY",
    "TickStatus",
    "cron_string_iterator",
    "extract_data_version_from_entry",
    "freshness_description",
    "get_input_data_version_tag",
    "get_input_event_pointer_tag",
]
