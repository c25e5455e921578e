"""When a day's sales verdict is due (the legacy pipeline judged yesterday every morning at 09:00, whether or
not new data had arrived; schedules.py does the same).

Day D is judged from the first ETL_SALES_DROP_SCHEDULE time after D ends (in ETL_TIMEZONE). Before that,
evaluations of sales_drop_check about D (refreshes during the night) show the current state in the UI but
announce nothing, so a batch arriving late never causes a premature alert.
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from etl_project.dagster_private import cron_string_iterator


def verdict_due_at(day: date, cron: str, timezone: str) -> datetime:
    """The first scheduled verdict time after `day` ends (Dagster's own cron arithmetic, as its scheduler)."""
    day_end = datetime.combine(day + timedelta(days=1), time(), ZoneInfo(timezone))
    return next(cron_string_iterator(day_end.timestamp(), cron, timezone))
