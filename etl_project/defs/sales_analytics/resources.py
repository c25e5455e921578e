"""The rule of sales-drop alerting (SalesDropRules): thresholds, the as-of day and when a day's verdict is
due, configured from ETL_SALES_DROP_*, ETL_TIMEZONE (docs/reference/configuration.md).
Where alerts go is the alerting feature's AlertChannel.
"""

import os
from datetime import date, datetime

import dagster as dg
from pydantic import Field

from etl_project.resources.environment import env_numbers, env_settings
from etl_project.sales_drop.rule import DEFAULT_VERDICT_SCHEDULE, evaluation_date


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
    verdict_schedule: str = Field(
        default=DEFAULT_VERDICT_SCHEDULE,
        description=(
            "Cron (in `timezone`) of the daily verdict (ETL_SALES_DROP_SCHEDULE): a day is judged, and its "
            "drops announced, from the first of these times after the day ends."
        ),
    )

    def evaluation_date(self, now: datetime | None = None) -> date:
        return evaluation_date(self, now)

    @classmethod
    def from_environment(cls) -> "SalesDropRules":
        """The rules as the code location configures them (ETL_SALES_DROP_*, ETL_TIMEZONE)."""
        return cls(
            **env_settings(
                as_of_date="ETL_SALES_DROP_AS_OF_DATE",
                timezone="ETL_TIMEZONE",
                verdict_schedule="ETL_SALES_DROP_SCHEDULE",
            ),
            **env_numbers(
                threshold_percent="ETL_SALES_DROP_THRESHOLD_PERCENT",
                min_baseline_amount="ETL_SALES_DROP_MIN_BASELINE",
            ),
        )


def verdict_schedule_from_env() -> tuple[str, str]:
    """(cron, time zone) of the daily verdict, as the schedule and the check both read them."""
    return (
        os.getenv("ETL_SALES_DROP_SCHEDULE") or DEFAULT_VERDICT_SCHEDULE,
        os.getenv("ETL_TIMEZONE") or "UTC",
    )


@dg.definitions
def sales_analytics_resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "sales_drop_rules": SalesDropRules.from_environment(),
        }
    )
