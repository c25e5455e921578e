"""Reading completed asset check evaluations from the Dagster instance, oldest first, after a cursor, as the
alerting library's plain `CheckEvaluation`s."""

from collections.abc import Iterable
from typing import Any

import dagster as dg

from etl_project.alerting.evaluations import CheckEvaluation

#: Evaluations read per query (newest first); older pages are read only while they are all new.
PAGE_SIZE = 50
#: At most this many pages per check and tick: after a long stop, only the newest 1000 evaluations of a
#: check are announced (older failures are still shown in the UI).
MAX_PAGES = 20


def evaluations_after(
    instance: dg.DagsterInstance, check_keys: Iterable[dg.AssetCheckKey], after_id: int
) -> list[CheckEvaluation]:
    """Completed evaluations of `check_keys` with a record id above `after_id`, oldest first."""
    found = []
    for key in check_keys:
        for record in _records_after(instance, key, after_id):
            # Planned evaluations (in progress, or never run because the asset failed) have no result yet.
            if record.event is None or record.event.dagster_event is None or record.status.value == "PLANNED":
                continue
            data = record.event.dagster_event.asset_check_evaluation_data
            found.append(
                CheckEvaluation(
                    record_id=record.id,
                    check_name=key.name,
                    asset_path=tuple(key.asset_key.path),
                    partition=record.partition,
                    passed=data.passed,
                    severity="ERROR" if data.severity == dg.AssetCheckSeverity.ERROR else "WARN",
                    description=data.description,
                    metadata={k: v.value for k, v in data.metadata.items()},
                )
            )
    return sorted(found, key=lambda e: e.record_id)


def _records_after(instance: dg.DagsterInstance, key: dg.AssetCheckKey, after_id: int) -> list[Any]:
    """The check's execution records with an id above `after_id`, reading pages back from the newest."""
    records: list[Any] = []
    before = None
    for _ in range(MAX_PAGES):
        page = instance.event_log_storage.get_asset_check_execution_history(
            key, limit=PAGE_SIZE, cursor=before
        )
        records += [r for r in page if r.id > after_id]
        if len(page) < PAGE_SIZE or page[-1].id <= after_id:
            return records
        before = page[-1].id
    return records
