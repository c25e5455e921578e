"""Dagster resources: the ETL database, the shared directory of batch files, and the alert messenger."""

from etl_project.resources.postgres import EtlDatabase
from etl_project.resources.shared_directory import SharedDirectory

__all__ = ["EtlDatabase", "SharedDirectory"]
