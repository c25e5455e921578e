"""The sales-drop rule's settings and the day a verdict judges."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Final, Protocol
from zoneinfo import ZoneInfo

#: The legacy pipeline judged yesterday every day at 09:00.
DEFAULT_VERDICT_SCHEDULE: Final = "0 9 * * *"
#: Run tag naming the day a run of sales_drop_check judges (set by daily_sales_verdict_schedule).
AS_OF_TAG: Final = "etl/sales_drop_as_of"


class RuleSettings(Protocol):
    """The rule's settings (the SalesDropRules resource is one)."""

    @property
    def threshold_percent(self) -> float: ...
    @property
    def min_baseline_amount(self) -> float: ...
    @property
    def as_of_date(self) -> str | None: ...
    @property
    def timezone(self) -> str: ...
    @property
    def verdict_schedule(self) -> str: ...


def evaluation_date(rule: RuleSettings, now: datetime | None = None) -> date:
    """The rule's as-of day: its `as_of_date` when set, else yesterday in its time zone."""
    if rule.as_of_date:
        return date.fromisoformat(rule.as_of_date)
    current = now or datetime.now(ZoneInfo(rule.timezone))
    return current.astimezone(ZoneInfo(rule.timezone)).date() - timedelta(days=1)


def judged_day(run_tags: Mapping[str, str], rule: RuleSettings) -> date:
    """The run's etl/sales_drop_as_of tag (daily_sales_verdict_schedule), else the rule's as-of day."""
    tagged = run_tags.get(AS_OF_TAG)
    return date.fromisoformat(tagged) if tagged else evaluation_date(rule)


def settings_fingerprint(rule: RuleSettings) -> str:
    """The settings a verdict depends on, as one string (part of the judged window's fingerprint)."""
    return f"{rule.threshold_percent}:{rule.min_baseline_amount}:{rule.timezone}:{rule.verdict_schedule}"


def day_judged_at(scheduled_time: datetime, timezone: str) -> date:
    """The day a verdict scheduled at `scheduled_time` judges: the day before, in the platform's zone."""
    return scheduled_time.astimezone(ZoneInfo(timezone)).date() - timedelta(days=1)
