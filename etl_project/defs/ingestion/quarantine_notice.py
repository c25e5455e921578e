"""What a quarantined batch's partition page of raw_events says: the reason, and what to do.

Dagster 1.13's partition page shows the metadata of the partition's latest *materialisation* only (plus the
observations made after it); an observation alone, or a failed materialisation, leaves it at "No metadata
entries". So a batch never loaded gets a materialisation of raw_events that holds none of its rows
(`dagster/row_count` 0, `status` quarantined) with the reason and the next step; the four event tables get
nothing, so nothing downstream refreshes. A batch whose earlier, readable version is still loaded keeps that
version's materialisation (still true of the tables) and gets an observation after it, which the page shows
beside it.
"""

from __future__ import annotations

import dagster as dg

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
