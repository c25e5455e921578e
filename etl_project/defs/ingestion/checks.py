"""The per-batch checks of the ingestion assets: is the file readable, do its rows add up, how many were rejected.

They are evaluated by the load itself, per batch partition, right after each batch's materialisations. A run
covers a range of partitions, and in Dagster 1.13 an `AssetCheckResult` takes its partition from the step's
single partition key, which a range run does not have; so each evaluation is an `AssetCheckEvaluation` naming
its partition, and the specs' `partitions_def` makes each run plan the checks for every partition it covers.
An evaluation also names the materialisation it judged (Dagster shows a check whose target is older than the
partition's latest materialisation as not evaluated).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import dagster as dg

from etl_project.alerting.evaluations import ALERT_ON_FAILURE
from etl_project.dagster_private import AssetCheckEvaluationTargetMaterializationData
from etl_project.defs.ingestion.partitions import batch_partitions
from etl_project.defs.ingestion.resources import DataQualityLimits
from etl_project.loading import BatchAccounting, RowsAccount, StillQuarantined

BATCH_FILE_READABLE = "batch_file_readable"
ROWS_ACCOUNTED_FOR = "rows_accounted_for"
REJECTED_SHARE = "rejected_share"


def batch_check_specs(raw_events: dg.AssetKey, event_tables: list[dg.AssetKey]) -> list[dg.AssetCheckSpec]:
    """The specs of batch_event_tables' checks: readability on raw_events, data quality on every asset.

    Partitioned check specs are a preview feature in Dagster 1.13 (their PreviewWarning is silenced in
    definitions.py); they are the only way to record a check per batch in a run covering several batches.
    """
    readable = dg.AssetCheckSpec(
        BATCH_FILE_READABLE,
        asset=raw_events,
        partitions_def=batch_partitions,
        description=(
            "Fails when the batch file cannot be read at all (empty, not UTF-8, not CSV, wrong header, missing): "
            "the file is quarantined, its `reason` is in this check's metadata, and the other batches of the run "
            "load as usual. `etl quarantine retry|drop BATCH` (or quarantined_batch_job) deals with it."
        ),
    )
    quality = []
    for key in [raw_events, *event_tables]:
        rows = (
            "the file's rows"
            if key == raw_events
            else f"the file's rows of the `{key.to_user_string()}` type"
        )
        descriptions = {
            ROWS_ACCOUNTED_FOR: (
                f"Every one of {rows} is either loaded or rejected with a reason: loaded + rejected = rows in "
                "the file, counted in the committed tables after the load."
            ),
            REJECTED_SHARE: (
                f"Warns when more of {rows} were rejected than ETL_MAX_REJECTED_PERCENT (default 5%); the most "
                "frequent reasons are in `top_reasons`, the rows themselves in the materialisation's "
                "`rejected_rows` table."
            ),
        }
        quality += [
            dg.AssetCheckSpec(
                name,
                asset=key,
                partitions_def=batch_partitions,
                metadata={ALERT_ON_FAILURE: True},
                description=description,
            )
            for name, description in descriptions.items()
        ]
    return [readable, *quality]


class JudgedMaterializations:
    """The latest materialisation of each asset's partition of one batch: what its evaluations judge.

    Known without a query when the storage stored them together (`events_stored_together` returns their ids);
    else looked up in one query of the assets' latest materialisations (the load has just recorded them), not one
    query per asset: 6 lookups a batch were 7% of a backlog batch's time. An asset whose latest materialisation
    is another partition's (another run recorded one since) is looked up on its own.
    """

    def __init__(
        self,
        instance: dg.DagsterInstance,
        batch_id: str,
        keys: Iterable[dg.AssetKey],
        stored: Mapping[tuple[dg.AssetKey, str | None], AssetCheckEvaluationTargetMaterializationData]
        | None = None,
    ):
        self._instance = instance
        self._batch_id = batch_id
        self._found: dict[dg.AssetKey, AssetCheckEvaluationTargetMaterializationData] = {}
        keys = list(keys)
        known = {key: stored[(key, batch_id)] for key in keys if stored and (key, batch_id) in stored}
        if len(known) == len(keys):  # the storage returned them as it stored them: nothing to look up
            self._found = known
            return
        for record in instance.get_asset_records(keys):
            latest = record.asset_entry.last_materialization_record
            event = latest.event_log_entry.dagster_event if latest else None
            if latest is not None and event is not None and event.partition == batch_id:
                self._found[record.asset_entry.asset_key] = _target_data(
                    latest.storage_id, latest.event_log_entry
                )

    def of(self, key: dg.AssetKey) -> AssetCheckEvaluationTargetMaterializationData | None:
        """The partition's latest materialisation of `key` (None if it never materialised)."""
        if key not in self._found:
            records = self._instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, asset_partitions=[self._batch_id]), limit=1
            ).records
            if not records:
                return None
            self._found[key] = _target_data(records[0].storage_id, records[0].event_log_entry)
        return self._found[key]


def _target_data(storage_id: int, entry: dg.EventLogEntry) -> AssetCheckEvaluationTargetMaterializationData:
    return AssetCheckEvaluationTargetMaterializationData(
        storage_id=storage_id, run_id=entry.run_id, timestamp=entry.timestamp
    )


def readable_evaluation(
    targets: JudgedMaterializations,
    raw_events: dg.AssetKey,
    batch_id: str,
    filename: str,
    problem: str | None,
    others: StillQuarantined | None = None,
) -> dg.AssetCheckEvaluation:
    """`batch_file_readable` of one batch: passed, or failed with the reason the file was quarantined.

    A passed evaluation names the batches still quarantined (`others`): the UI lists the check as Failed while
    any partition fails, next to this newest evaluation, and the two must not read as a contradiction.
    """
    if problem:
        description = f"Quarantined: {problem}"
    elif others and others.count:
        shown = ", ".join(others.first) + (
            f" and {others.count - len(others.first)} more" if others.count > len(others.first) else ""
        )
        description = (
            f"The file was read. Still quarantined: {shown}; the check stays Failed until each is retried or "
            "dropped (`etl quarantine list`)."
        )
    else:
        description = "The file was read."
    return dg.AssetCheckEvaluation(
        asset_key=raw_events,
        check_name=BATCH_FILE_READABLE,
        passed=problem is None,
        severity=dg.AssetCheckSeverity.ERROR,
        partition=batch_id,
        target_materialization_data=targets.of(raw_events),
        description=description,
        metadata={
            "file": filename,
            "reason": problem or "",
            "other_batches_quarantined": others.count if others else 0,
        },
    )


def _account_metadata(filename: str, account: RowsAccount) -> dict[str, Any]:
    return {
        "file": filename,
        "rows_in_file": account.rows_in_file,
        "rows_loaded": account.rows_loaded,
        "rows_rejected": account.rows_rejected,
        "rejected_percent": account.rejected_percent,
        "top_reasons": dg.MetadataValue.json(account.top_reasons()),
    }


def data_quality_evaluations(
    targets: JudgedMaterializations,
    accounts: dict[dg.AssetKey, RowsAccount],
    batch_id: str,
    filename: str,
    limits: DataQualityLimits,
) -> Iterator[dg.AssetCheckEvaluation]:
    """`rows_accounted_for` and `rejected_share` of one batch, for each asset's account of its rows."""
    for key, account in accounts.items():
        metadata = _account_metadata(filename, account)
        target = targets.of(key)
        yield dg.AssetCheckEvaluation(
            asset_key=key,
            check_name=ROWS_ACCOUNTED_FOR,
            passed=account.accounted_for,
            severity=dg.AssetCheckSeverity.ERROR,
            partition=batch_id,
            target_materialization_data=target,
            description=(
                f"{account.rows_loaded} loaded + {account.rows_rejected} rejected "
                f"{'=' if account.accounted_for else '!='} {account.rows_in_file} rows in {filename}"
            ),
            metadata=metadata,
        )
        too_many = account.rejected_percent > limits.max_rejected_percent
        reasons = ", ".join(f"{r['reason']} ({r['count']})" for r in account.top_reasons())
        yield dg.AssetCheckEvaluation(
            asset_key=key,
            check_name=REJECTED_SHARE,
            passed=not too_many,
            severity=dg.AssetCheckSeverity.WARN,
            partition=batch_id,
            target_materialization_data=target,
            description=(
                f"{account.rejected_percent}% of {account.rows_in_file} rows rejected "
                f"(limit {limits.max_rejected_percent}%)" + (f": {reasons}" if reasons else "")
            ),
            metadata={**metadata, "max_rejected_percent": limits.max_rejected_percent},
        )


def accounts_by_asset(raw_events: dg.AssetKey, accounting: BatchAccounting) -> dict[dg.AssetKey, RowsAccount]:
    """Each asset's account of the batch: the whole file for raw_events, its event type's rows for a table."""
    return {raw_events: accounting.file, **{dg.AssetKey(t): a for t, a in accounting.tables.items()}}
