"""The shared resources of every feature, configured from the environment (docs/reference/configuration.md).

`etl_database` (EtlDatabase: ETL_DATABASE_URL, or the embedded PostgreSQL; ETL_TIMEZONE) and
`shared_directory` (SharedDirectory: ETL_SHARED_DATA_DIR, ETL_FILE_SETTLE_SECONDS; or a bucket with
ETL_SOURCE_URL, ETL_S3_ENDPOINT_URL). The classes are in
`etl_project/resources/`; each feature's own resources are in its folder's `resources.py`.
"""

import dagster as dg

from etl_project.resources.environment import env_numbers, env_settings
from etl_project.resources.from_environment import EnvironmentEtlDatabase, EnvironmentSharedDirectory


@dg.definitions
def shared_resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            # where data and secrets are comes from the environment only; a run's config cannot move it
            "etl_database": EnvironmentEtlDatabase(
                **env_settings(url="ETL_DATABASE_URL", timezone="ETL_TIMEZONE")
            ),
            "shared_directory": EnvironmentSharedDirectory(
                **env_settings(
                    path="ETL_SHARED_DATA_DIR",
                    source_url="ETL_SOURCE_URL",
                    s3_endpoint_url="ETL_S3_ENDPOINT_URL",
                ),
                **env_numbers(settle_seconds="ETL_FILE_SETTLE_SECONDS"),
            ),
        }
    )
