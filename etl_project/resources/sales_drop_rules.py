"""The rule that decides when a store's sales fell sharply, as configurable settings."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
from pydantic import Field


class SalesDropRules(dg.ConfigurableResource):
    """Thresholds of `sales_drop_check` (ETL_SALES_DROP_* variables) and the platform's time zone."""

    threshold_percent: float = Field(
        default=-20.0, description="Flag a store whose change is at or below this percentage."
    )
    min_baseline_amount: float = Field(
        default=100.0,
        description="Stores whose 7-day average is below this amount are never flagged (too small to judge).",
    )
    as_of_date: str | None = Field(
        default=None, description="Day to evaluate (YYYY-MM-DD); default yesterday in `timezone`."
    )
    timezone: str = Field(default="UTC", description="The platform's time zone (ETL_TIMEZONE).")

    def evaluation_date(self, now: datetime | None = None) -> date:
        if self.as_of_date:
            return date.fromisoformat(self.as_of_date)
        current = now or datetime.now(ZoneInfo(self.timezone))
        return current.astimezone(ZoneInfo(self.timezone)).date() - timedelta(days=1)
