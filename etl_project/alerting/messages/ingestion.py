"""The messages about ingestion: silent (no batch loaded for a while), flowing again, a quarantined file."""

from __future__ import annotations

from datetime import datetime, timezone

from etl_project.alerting.evaluations import CheckEvaluation
from etl_project.alerting.messengers import AlertMessage

#: The freshness check's metadata: when the asset was last updated (a POSIX timestamp).
LAST_UPDATED = "dagster/last_updated_timestamp"


def _when(evaluation: CheckEvaluation) -> str:
    stamp = evaluation.metadata.get(LAST_UPDATED)
    if stamp is None:
        return "never"
    return datetime.fromtimestamp(float(stamp), timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def silence_message(evaluation: CheckEvaluation, link: str) -> AlertMessage:
    return AlertMessage(
        title=":hourglass: Ingestion is silent: no batch loaded",
        lines=[
            evaluation.description or "No batch loaded within the allowed silence",
            f"last batch loaded: {_when(evaluation)}",
        ],
        link=link,
        link_text="Open raw_events in Dagster",
    )


def flowing_again_message(evaluation: CheckEvaluation, link: str) -> AlertMessage:
    return AlertMessage(
        title=":white_check_mark: Data is flowing again",
        lines=[f"a batch was loaded at {_when(evaluation)}; ingestion is no longer silent"],
        link=link,
        link_text="Open raw_events in Dagster",
    )


def quarantined_file_message(batch_id: str, filename: str, reason: str, link: str) -> AlertMessage:
    return AlertMessage(
        title=f":no_entry: Quarantined file {filename}",
        lines=[
            f"reason: {reason}",
            f"batch {batch_id} was not loaded; fix or replace the file, or drop the batch",
        ],
        link=link,
        link_text="Open the batch in Dagster",
    )
