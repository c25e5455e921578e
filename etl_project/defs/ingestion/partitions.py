"""Batch partitions: one dynamic partition per batch file, keyed by the batch id (the file name)."""

import dagster as dg

batch_partitions = dg.DynamicPartitionsDefinition(name="batches")

#: Substrings Dagster refuses in a partition key; a file whose name holds one is reported, not loaded.
_FORBIDDEN_IN_KEYS = ("...", "\a", "\b", "\f", "\n", "\r", "\t", "\v", "\0")


def invalid_batch_id_reason(batch_id: str) -> str | None:
    """Why `batch_id` cannot be a partition key (and a file name inside the shared directory), or None."""
    if not batch_id.strip():
        return "the batch id is empty"
    if "/" in batch_id or "\\" in batch_id or batch_id in {".", ".."}:
        return "the batch id contains a path separator"
    if any(s in batch_id for s in _FORBIDDEN_IN_KEYS):
        return "the batch id contains '...' or control characters, which Dagster partition keys cannot hold"
    if len(batch_id) > 200:
        return "the batch id is longer than 200 characters"
    return None
