"""Reading completed asset check evaluations from the Dagster instance, oldest first, after a cursor."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import dagster as dg

#: Evaluations read per check and tick; a sensor ticking every 30 s never falls this far behind.
EVALUATIONS_PER_CHECK = 200


@dataclass(frozen=True)
class CheckEvaluation:
    """One completed evaluation: which check, which partition, passed or not, and its metadata values."""

    record_id: int
    check_key: dg.AssetCheckKey
    partition: str | None
    passed: bool
    severity: dg.AssetCheckSeverity
    description: str | None
    metadata: dict[str, Any]


def evaluations_after(
    instance: dg.DagsterInstance, check_keys: Iterable[dg.AssetCheckKey], after_id: int
) -> list[CheckEvaluation]:
    """Completed evaluations of `check_keys` with a record id above `after_id`, oldest first."""
    found = []
    for key in check_keys:
        for record in instance.event_log_storage.get_asset_check_execution_history(
            key, limit=EVALUATIONS_PER_CHECK
        ):
            # Planned evaluations (in progress, or never run because the asset failed) have no result yet.
            if record.id <= after_id or record.event is None or record.status.value == "PLANNED":
                continue
            data = record.event.dagster_event.asset_check_evaluation_data
            found.append(
                CheckEvaluation(
                    record_id=record.id,
                    check_key=key,
                    partition=record.partition,
                    passed=data.passed,
                    severity=data.severity,
                    description=data.description,
                    metadata={k: v.value for k, v in data.metadata.items()},
                )
            )
    return sorted(found, key=lambda e: e.record_id)
