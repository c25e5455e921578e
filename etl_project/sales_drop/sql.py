"""The sales-drop SQL files of this package, read once (parameters in psycopg2's `%(name)s` style)."""

from functools import cache
from pathlib import Path

_HERE = Path(__file__).parent


@cache
def sales_drop_query(name: str) -> str:
    """The text of `etl_project/sales_drop/<name>.sql`."""
    return (_HERE / f"{name}.sql").read_text(encoding="utf-8")
