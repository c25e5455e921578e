"""Where the repository's own folders are, so that every process (CLI, code server, run worker) agrees."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ETL_DB_DIR = PROJECT_ROOT / "etl_db"
MIGRATIONS_DIR = ETL_DB_DIR / "migrations"
QUERIES_DIR = ETL_DB_DIR / "queries"
IMPORT_FILES_DIR = ETL_DB_DIR / "import_files"
DEFAULT_SHARED_DATA_DIR = PROJECT_ROOT / "shared_data"
#: Data of the embedded PostgreSQL used when no ETL_DATABASE_URL is given (git-ignored).
EMBEDDED_PGDATA_DIR = PROJECT_ROOT / ".pgdata"
#: DAGSTER_HOME of `make dev` (git-ignored).
LOCAL_DAGSTER_HOME = PROJECT_ROOT / ".dagster_home"
