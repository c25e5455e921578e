"""The shared resources as the code location builds them: where data and secrets are comes from the environment
only, never from a run's config.

Dagster shows every field of a ConfigurableResource in the launchpad and lets a run's config replace it, EnvVar
fields included. A UI user could so point `shared_directory.path` at any readable folder (loading `<key>.csv`
from it, or having the generator write there) or `etl_database.url` at another server. The fields stay (the UI
shows which variable sets them, never a password), but these subclasses refuse, when a run sets them up, any
value other than the environment's: the run fails before any step reads or writes anything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import ClassVar

import dagster as dg

from etl_project.resources.postgres import EtlDatabase
from etl_project.resources.shared_directory import SharedDirectory


class RunConfigOverrideError(Exception):
    """A run's config tried to change a setting that locates data or secrets."""


def refuse_overrides(resource: dg.ConfigurableResource, pinned: Mapping[str, str], key: str) -> None:
    """Raise unless each pinned field has the value its environment variable gives (or its default, when unset)."""
    for field, variable in pinned.items():
        expected = os.getenv(variable) or type(resource).model_fields[field].default
        if getattr(resource, field) != expected:
            raise RunConfigOverrideError(
                f"{key}.{field} comes from {variable} and cannot be set from run config; remove it from the "
                "run's resources config"
            )


class EnvironmentEtlDatabase(EtlDatabase):
    """EtlDatabase whose `url` is ETL_DATABASE_URL's, whatever a run's config says."""

    PINNED_TO_ENVIRONMENT: ClassVar[Mapping[str, str]] = {"url": "ETL_DATABASE_URL"}

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        refuse_overrides(self, self.PINNED_TO_ENVIRONMENT, "etl_database")


class EnvironmentSharedDirectory(SharedDirectory):
    """SharedDirectory whose `path`, `source_url` and `s3_endpoint_url` are the environment's, whatever a run's
    config says."""

    PINNED_TO_ENVIRONMENT: ClassVar[Mapping[str, str]] = {
        "path": "ETL_SHARED_DATA_DIR",
        "source_url": "ETL_SOURCE_URL",
        "s3_endpoint_url": "ETL_S3_ENDPOINT_URL",
    }

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        refuse_overrides(self, self.PINNED_TO_ENVIRONMENT, "shared_directory")
