"""Where batch files arrive: the shared directory (the default) or an S3-compatible bucket (ETL_SOURCE_URL).

The resource keeps its key, `shared_directory`, whichever it is: `source()` is the one place that chooses,
and everything else (the sensor, the loads, the quarantine, the generator) works on the `BatchSource` it
returns (etl_project/sources/).
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from etl_project.loading import UnsafeBatchFileError
from etl_project.paths import DEFAULT_SHARED_DATA_DIR
from etl_project.resources.bucket_client import bucket_source
from etl_project.schemas import invalid_batch_id_reason
from etl_project.sources import BATCH_FILE_SUFFIX, BatchFile, BatchSource, DirectorySource, SourceScan

#: One listing of the shared directory (the name it had before the bucket source).
DirectoryScan = SourceScan

__all__ = [
    "BATCH_FILE_SUFFIX",
    "BatchFile",
    "DirectoryScan",
    "SharedDirectory",
    "UnsafeBatchFileError",
]


class SharedDirectory(dg.ConfigurableResource):
    """Where `<batch_id>.csv` files arrive: the generator writes there, the sensor and the loads read there."""

    path: str = Field(
        default=str(DEFAULT_SHARED_DATA_DIR),
        description="Directory of incoming batch files (ETL_SHARED_DATA_DIR), unless source_url is set.",
    )
    settle_seconds: float = Field(
        default=5.0,
        description="A file modified more recently than this is still being written and is left for later.",
    )
    source_url: str | None = Field(
        default=None,
        description="s3://bucket/prefix/ (ETL_SOURCE_URL): read batch files from that bucket instead of `path`; "
        "credentials come from AWS's own chain (environment, profile, instance role).",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        description="The S3 API's address when it is not AWS's (ETL_S3_ENDPOINT_URL), e.g. http://minio:9000.",
    )

    @property
    def root(self) -> Path:
        return Path(self.path)

    def source(self) -> BatchSource:
        """The source the settings name: the bucket of `source_url`, else the directory `path`."""
        if self.source_url:
            return bucket_source(self.source_url, self.s3_endpoint_url)
        return DirectorySource(self.root, self.settle_seconds)

    def file_for_batch(self, batch_id: str) -> Path:
        """The batch's file in the directory, refusing anything that would read outside it."""
        reason = invalid_batch_id_reason(batch_id)
        if reason:
            raise UnsafeBatchFileError(f"{batch_id!r}: {reason}")
        path = self.root / f"{batch_id}{BATCH_FILE_SUFFIX}"
        if path.is_symlink():
            raise UnsafeBatchFileError(f"{path.name}: is a symbolic link; only regular files are loaded")
        return path

    def complete_batch_files(self, now: float | None = None) -> tuple[list[BatchFile], list[str]]:
        """The directory's ready batch files and the names skipped, with why (`scan_batch_files` without the
        undecodable)."""
        scan = self.scan_batch_files(now)
        return scan.ready, scan.skipped

    def scan_batch_files(self, now: float | None = None) -> SourceScan:
        """One scan of the directory (DirectorySource.scan)."""
        return DirectorySource(self.root, self.settle_seconds).scan(now=now)
