"""What every `etl` command needs: the ETL database and Dagster's storage as the code location configures them."""

import os

from etl_project.database.embedded import embedded_server_uri, ensure_database
from etl_project.resources import EtlDatabase

#: Database of the Dagster instance's own storage on the embedded server.
DAGSTER_DATABASE = "dagster"


def etl_database() -> EtlDatabase:
    """The ETL database as the code location configures it (ETL_DATABASE_URL, ETL_TIMEZONE)."""
    return EtlDatabase(url=os.getenv("ETL_DATABASE_URL") or None, timezone=os.getenv("ETL_TIMEZONE") or "UTC")


def etl_database_url() -> str:
    return etl_database().resolved_url()


def dagster_storage_url() -> str:
    """Dagster's run/event storage: DAGSTER_POSTGRES_URL, or a `dagster` database on the embedded server."""
    url = os.getenv("DAGSTER_POSTGRES_URL")
    if url:
        return url
    uri = ensure_database(embedded_server_uri(), DAGSTER_DATABASE)
    # SQLAlchemy must use psycopg2 here (with psycopg 3 installed, dagster-postgres' NOTIFY fails).
    return uri.replace("postgresql://", "postgresql+psycopg2://", 1)


def migrate() -> None:
    with etl_database().connect():
        pass  # connecting applies pending migrations
