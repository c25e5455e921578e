"""What a quarantined batch's partition page of raw_events says: the reason, and what to do.

Dagster 1.13's partition page shows the metadata of the partition's latest *materialisation* only (plus the
observations made after it); an observation alone, or a failed materialisation, leaves it at "No metadata
entries". So a batch never loaded gets a materialisation of raw_events that holds none of its rows
(`dagster/row_count` 0, `status` quarantined) with the reason and the next step; the four event tables get
nothing, so nothing downstream refreshes. A batch whose earlier, readable version is still loaded keeps that
version's materialisation (still true of the tables) and gets an observation after it, which the page shows
beside it.

The run that quarantines a never-loaded batch also planned its row checks (rows_accounted_for, rejected_share)
for its partition; left unevaluated they would show as Skipped next to a latest execution that passed. They are
evaluated as passed with nothing to count, saying why: the one failed check of the partition is then
batch_file_readable, with the reason.
"""

from __future__ import annotations

import dagster as dg

from etl_project.defs.ingestion.checks import REJECTED_SHARE, ROWS_ACCOUNTED_FOR
from etl_project.schemas import EVENT_SCHEMAS

QUARANTINED = "quarantined: not loaded"
QUARANTINED_KEEPING_EARLIER = "this version quarantined: the earlier, loaded version is kept"


def what_to_do(batch_id: str, filename: str) -> str:
    return (
        f"Fix or replace {filename} in the shared directory (the file sensor loads a changed file), or run "
        f"`etl quarantine retry {batch_id}` once fixed; `etl quarantine drop {batch_id}` gives up on it. In the "
        "UI: quarantined_batch_job with action retry or drop."
    )


def quarantine_notice(
    raw_events: dg.AssetKey, batch_id: str, filename: str, problem: str, earlier_version_loaded: bool
) -> dg.AssetMaterialization | dg.AssetObservation:
    """The event that puts the reason on the batch's partition page of raw_events (see the module's doc)."""
    metadata = {
        "status": QUARANTINED_KEEPING_EARLIER if earlier_version_loaded else QUARANTINED,
        "reason": problem,
        "what_to_do": what_to_do(batch_id, filename),
        "file": filename,
    }
    if earlier_version_loaded:
        return dg.AssetObservation(
            raw_events,
            partition=batch_id,
            description=f"A new version of {filename} was quarantined; the loaded version is kept: {problem}",
            metadata=metadata,
        )
    return dg.AssetMaterialization(
        raw_events,
        partition=batch_id,
        description=f"Quarantined, nothing of {filename} was loaded: {problem}",
        metadata={**metadata, "dagster/row_count": 0},
    )


def quarantined_row_checks(
    raw_events: dg.AssetKey, batch_id: str, filename: str
) -> list[dg.AssetCheckEvaluation]:
    """The row checks of a never-loaded batch's partition: nothing loaded, nothing rejected, nothing to count."""
    assets = [raw_events, *(dg.AssetKey(schema.table) for schema in EVENT_SCHEMAS)]
    return [
        dg.AssetCheckEvaluation(
            asset_key=asset,
            check_name=check,
            passed=True,
            partition=batch_id,
            description=(
                "Nothing to count: the file was quarantined whole, no row of it loaded or rejected "
                "(batch_file_readable says why)."
            ),
            metadata={"file": filename, "status": QUARANTINED, "rows_loaded": 0, "rows_rejected": 0},
        )
        for asset in assets
        for check in (ROWS_ACCOUNTED_FOR, REJECTED_SHARE)
    ]
