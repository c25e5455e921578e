"""Where batch files arrive, as one concept with two kinds: the shared directory and an S3-compatible bucket.

Dagster-free. The sensor lists a `BatchSource`, the loader reads the `BatchObject` it names, the generators
write through it; none of them asks which kind it is. `SharedDirectory.source()` (etl_project/resources/)
picks the kind from the settings (ETL_SOURCE_URL, else ETL_SHARED_DATA_DIR).

    base.py           BatchSource, BatchFile (a listed batch and its version), SourceScan (one listing)
    directory.py      DirectorySource: `<batch_id>.csv` files of a directory, settled before they count
    bucket.py         BucketSource: `<prefix><batch_id>.csv` objects of a bucket, listed, read, written
    bucket_object.py  BucketObject: one object, opened at one ETag and streamed in ranged GETs
    location.py       BucketLocation: `s3://bucket/prefix/` parsed and checked
"""

from etl_project.sources.base import BATCH_FILE_SUFFIX, BatchFile, BatchSource, SourceScan
from etl_project.sources.bucket import BucketSource
from etl_project.sources.directory import DirectorySource
from etl_project.sources.location import BucketLocation, InvalidSourceUrlError

__all__ = [
    "BATCH_FILE_SUFFIX",
    "BatchFile",
    "BatchSource",
    "BucketLocation",
    "BucketSource",
    "DirectorySource",
    "InvalidSourceUrlError",
    "SourceScan",
]
