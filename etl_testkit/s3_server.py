"""An S3 API server for tests and benchmarks (moto's ThreadedMotoServer on a free port), and batch drops that
put the same bytes into a directory or a bucket, so one test runs against both sources.

Nothing is patched: the platform reaches the server over HTTP through boto3's own client, with throwaway
credentials set in the environment for AWS's chain to find.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

#: Throwaway credentials and region for moto: AWS's chain finds them in the environment.
FAKE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def s3_server() -> Iterator[str]:
    """moto's S3 API on 127.0.0.1 and a free port; yields its endpoint URL. Sets (and restores) the fake
    credentials of FAKE_AWS_ENVIRONMENT, and AWS_CONFIG_FILE/AWS_SHARED_CREDENTIALS_FILE to nothing."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    saved = {name: os.environ.get(name) for name in [*FAKE_AWS_ENVIRONMENT, "AWS_PROFILE"]}
    os.environ.update(FAKE_AWS_ENVIRONMENT)
    os.environ.pop("AWS_PROFILE", None)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def s3_client(endpoint_url: str) -> Any:
    return boto3.client(
        "s3", endpoint_url=endpoint_url, region_name=FAKE_AWS_ENVIRONMENT["AWS_DEFAULT_REGION"]
    )


def new_bucket(endpoint_url: str, prefix: str = "incoming/") -> str:
    """A new, empty bucket of its own; returns its source URL, `s3://<bucket>/<prefix>`."""
    name = f"etl-test-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint_url).create_bucket(Bucket=name)
    return f"s3://{name}/{prefix}"


class DirectoryDrop:
    """Puts batch files into a directory, as writers on the same machine do."""

    kind = "directory"

    def __init__(self, directory: Path):
        self.directory = directory

    def put(self, name: str, data: bytes) -> None:
        """Write (or replace) `name`; a replacement gets a later modification time, as any new write."""
        path = self.directory / name
        previous = path.stat().st_mtime_ns if path.exists() else 0
        path.write_bytes(data)
        if path.stat().st_mtime_ns <= previous:  # a coarse clock: the new version must look new
            os.utime(path, ns=(previous + 1_000_000_000, previous + 1_000_000_000))

    def delete(self, name: str) -> None:
        (self.directory / name).unlink()


class BucketDrop:
    """Puts batch objects into a bucket through boto3, as writers on other machines do."""

    kind = "bucket"

    def __init__(self, endpoint_url: str, source_url: str):
        self.client = s3_client(endpoint_url)
        self.bucket, _, self.prefix = source_url.removeprefix("s3://").partition("/")

    def put(self, name: str, data: bytes) -> None:
        """Put (or replace) `name`. Last-Modified has whole seconds: a replacement waits for the next second
        so that the same bytes put again are a new version, as a file written again is."""
        key = self.prefix + name
        try:
            previous = self.client.head_object(Bucket=self.bucket, Key=key)["LastModified"].timestamp()
        except ClientError:
            previous = None
        while previous is not None and int(time.time()) <= int(previous):
            time.sleep(0.05)
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def delete(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + name)

    def keys(self) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix)
        return [entry["Key"] for entry in listed.get("Contents", [])]
