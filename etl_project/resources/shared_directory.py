"""The shared directory where batch files arrive (the stand-in for an object store)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from etl_project.paths import DEFAULT_SHARED_DATA_DIR


class SharedDirectory(dg.ConfigurableResource):
    """Directory of `<batch_id>.csv` files: the generator writes there, the sensor and the loads read there."""

    path: str = Field(
        default=str(DEFAULT_SHARED_DATA_DIR),
        description="Directory of incoming batch files (ETL_SHARED_DATA_DIR).",
    )
    settle_seconds: float = Field(
        default=5.0,
        description="A file modified more recently than this is still being written and is left for later.",
    )

    @property
    def root(self) -> Path:
        return Path(self.path)

    def file_for_batch(self, batch_id: str) -> Path:
        return self.root / f"{batch_id}.csv"
