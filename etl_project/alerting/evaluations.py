"""A completed asset check evaluation as the alerts read it: plain values, no Dagster types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["ERROR", "WARN"]

#: Spec metadata that opts a check into alerts: its failed evaluations are posted to Slack (check_failure_slack_sensor).
ALERT_ON_FAILURE = "etl/alert_on_failure"


@dataclass(frozen=True)
class CheckEvaluation:
    """One completed evaluation: which check on which asset, which partition, passed or not, its metadata."""

    record_id: int
    check_name: str
    asset_path: tuple[str, ...]
    partition: str | None
    passed: bool
    severity: Severity
    description: str | None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def asset(self) -> str:
        """The asset as the UI names it (`sales`, `a/b`)."""
        return "/".join(self.asset_path)

    @property
    def check(self) -> str:
        """The check as the UI names it (`sales:rejected_share`)."""
        return f"{self.asset}:{self.check_name}"
