"""Readable ids for generated batches: `generated__2026-11-30T11-54-37Z` says where and when a batch came from.

The time is UTC with `-` between hours, minutes and seconds: a colon is not allowed in a Windows file name, and
the id is both the file's name and the batch's partition key. Ids of one prefix sort by time.
"""

from datetime import datetime, timezone

#: Prefix of the batches written by the scheduled generator (generate_batch_job).
SCHEDULED_PREFIX = "generated"
#: Prefix of the batches written by `etl generate`.
MANUAL_PREFIX = "manual"


def readable_batch_id(prefix: str, moment: datetime) -> str:
    """`<prefix>__YYYY-MM-DDTHH-MM-SSZ` for `moment` (a naive moment is taken as UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return f"{prefix}__{moment:%Y-%m-%dT%H-%M-%S}Z"
