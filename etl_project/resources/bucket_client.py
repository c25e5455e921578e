"""The S3 client of the bucket source, built by dagster-aws's S3Resource: AWS's credential chain only.

No access key is a setting of ours: boto3 finds credentials in the environment (AWS_ACCESS_KEY_ID, ...), a
profile (AWS_PROFILE) or the instance's role, as every AWS tool does; ETL_S3_ENDPOINT_URL points at a server
other than AWS (MinIO, Ceph, moto). One client per process and endpoint: building one costs ~50 ms, and a
client is safe to share between threads. dagster-aws is imported when a client is built, not with the code
location: the shared directory needs none of it (see definitions.load_definitions).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from etl_project.sources import BucketLocation, BucketSource


@lru_cache(maxsize=8)
def s3_client(endpoint_url: str | None) -> Any:
    """A boto3 S3 client for `endpoint_url` (None: AWS itself), with dagster-aws's retries."""
    from dagster_aws.s3 import S3Resource

    return S3Resource(endpoint_url=endpoint_url or None).get_client()


def bucket_source(url: str, endpoint_url: str | None) -> BucketSource:
    """The source at `s3://bucket/prefix/` (raises InvalidSourceUrlError for anything else)."""
    return BucketSource(s3_client(endpoint_url), BucketLocation.parse(url))
