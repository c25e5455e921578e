"""The analytic SQL of `etl_db/queries/`, read once: kept as .sql files so analysts can run them directly."""

from functools import cache

from etl_project.paths import QUERIES_DIR


@cache
def analytic_query(name: str) -> str:
    """The text of `etl_db/queries/<name>.sql` (parameters in psycopg2's `%(name)s` style)."""
    return (QUERIES_DIR / f"{name}.sql").read_text(encoding="utf-8")
