"""`s3://bucket/prefix/`: where the bucket source reads (ETL_SOURCE_URL) and `etl generate --out` writes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

#: S3's rule for bucket names (3-63 lowercase letters, digits, dots and hyphens).
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class InvalidSourceUrlError(ValueError):
    """The URL is not `s3://bucket/` or `s3://bucket/prefix/`; the message says why."""


@dataclass(frozen=True)
class BucketLocation:
    """A bucket and the key prefix its batch files are under (empty, or ending with `/`)."""

    bucket: str
    prefix: str

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def key_of(self, name: str) -> str:
        return f"{self.prefix}{name}"

    @classmethod
    def parse(cls, url: str) -> BucketLocation:
        parts = urlsplit(url)
        if "@" in parts.netloc:  # the URL is not repeated: what stands before `@` may be a secret
            raise InvalidSourceUrlError(
                "ETL_SOURCE_URL holds credentials (`...@`): give them through AWS's chain"
            )
        if parts.scheme != "s3":
            raise InvalidSourceUrlError(f"{url!r}: expected s3://bucket/prefix/")
        if parts.query or parts.fragment:
            raise InvalidSourceUrlError(f"{url!r}: only s3://bucket/prefix/ (no query or fragment)")
        if not _BUCKET_NAME.match(parts.netloc):
            raise InvalidSourceUrlError(f"{url!r}: {parts.netloc!r} is not a valid bucket name")
        prefix = parts.path.lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"  # a folder of batch files, never a part of their names
        return cls(parts.netloc, prefix)
