"""Loading a batch file into PostgreSQL: streaming the file in, validating it in SQL, one transaction.

This package knows nothing of Dagster; what the rest of the platform uses is exported here, and callers
import only from `etl_project.loading`:

- `load_batch(conn, batch_id, path)`: load a file as a batch, replacing any earlier load of it, all or
  nothing; returns a `BatchLoadReport`, raises `BatchFileError` when the file cannot be read at all;
- `BatchObject`, `OpenedBatch`, `LocalBatchFile`, `UnsafeBatchFileError`: what a load reads, wherever it lives
  (`batch_object`: a file here, a bucket's object in `etl_project.sources`), versioned as `ObjectVersion`;
  `PositionedReader`: the seekable reader of a byte range both kinds read through;
- `is_loaded`, `record_quarantined`, `record_quarantined_version`: the file's record in `utilities.processed_files` (the ledger, owned by
  `etl_project.store.processed_files`, whose functions these are);
- `quarantined_files`, `record_dropped`: the quarantined files, and giving up on one (`QuarantinedFile`);
  `still_quarantined`: how many are quarantined now, and the oldest (`StillQuarantined`);
- `count_batch_rows`, `first_rejected_rows`: what the committed tables hold of a batch (its data-quality
  checks' numbers, `BatchAccounting`) and its first rejected rows (`RejectedRow`), each one query after a load;
- `processed_versions`, `batches_loaded_before`: what the file and retention sensors read of that record;
- `seen_again_unchanged`, `file_sha256`: a file holding its batch's loaded content again is recorded as seen
  again and not loaded (`file_versions`);
- `batches_to_replay`, `replay_batch`: the replay of rows whose references arrived late;
- `dangling_references_after_load`, `dangling_references_everywhere`: the referential-integrity guard;
- `ReloadRefusedError`: a new version of a file would orphan other batches' rows (a `BatchFileError`);
- `record_undecodable_names`: files whose names are not UTF-8, quarantined under their escaped names;
- `database_refusal`: why PostgreSQL cannot take a file (a limit or a data error), or None (retry it);
- `category_of`: the category of a rejection reason, as the run metadata counts it;
- `is_transient`, `TerminalLoadError`, `RowsNotAccountedForError`: whether a failed load may succeed when tried
  again (a lost connection, a serialization failure, a deadlock) or not (a bug, a data problem).
"""

from etl_project.loading.batch_accounting import BatchAccounting, RowsAccount, count_batch_rows
from etl_project.loading.batch_file import BatchFileError
from etl_project.loading.batch_loader import load_batch
from etl_project.loading.batch_object import (
    BatchObject,
    LocalBatchFile,
    OpenedBatch,
    UnsafeBatchFileError,
    batch_object_of,
)
from etl_project.loading.database_refusals import database_refusal
from etl_project.loading.errors import (
    RowsNotAccountedForError,
    SourceReadError,
    TerminalLoadError,
    is_transient,
)
from etl_project.loading.file_versions import file_sha256, seen_again_unchanged
from etl_project.loading.integrity import (
    DanglingReferences,
    dangling_references_after_load,
    dangling_references_everywhere,
)
from etl_project.loading.opened_file import PositionedReader
from etl_project.loading.rejected_rows import RejectedRow, first_rejected_rows
from etl_project.loading.rejections import category_of
from etl_project.loading.reload_guard import ReloadRefusedError
from etl_project.loading.replay import batches_to_replay, replay_batch
from etl_project.loading.report import BatchLoadReport
from etl_project.loading.undecodable_names import record_undecodable_names
from etl_project.store.processed_files import (
    FileStatus,
    ObjectVersion,
    QuarantinedFile,
    RecordedVersion,
    StillQuarantined,
    batches_loaded_before,
    is_loaded,
    newest_filename,
    processed_versions,
    quarantined_files,
    record_dropped,
    record_quarantined,
    record_quarantined_version,
    still_quarantined,
)

__all__ = [
    "BatchAccounting",
    "BatchFileError",
    "BatchLoadReport",
    "BatchObject",
    "LocalBatchFile",
    "ObjectVersion",
    "OpenedBatch",
    "UnsafeBatchFileError",
    "batch_object_of",
    "record_quarantined_version",
    "DanglingReferences",
    "FileStatus",
    "QuarantinedFile",
    "StillQuarantined",
    "RecordedVersion",
    "RejectedRow",
    "ReloadRefusedError",
    "RowsAccount",
    "RowsNotAccountedForError",
    "PositionedReader",
    "SourceReadError",
    "TerminalLoadError",
    "batches_loaded_before",
    "batches_to_replay",
    "category_of",
    "count_batch_rows",
    "dangling_references_after_load",
    "dangling_references_everywhere",
    "file_sha256",
    "database_refusal",
    "first_rejected_rows",
    "is_loaded",
    "is_transient",
    "load_batch",
    "newest_filename",
    "processed_versions",
    "quarantined_files",
    "still_quarantined",
    "record_dropped",
    "record_quarantined",
    "record_undecodable_names",
    "replay_batch",
    "seen_again_unchanged",
]
