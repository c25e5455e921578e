"""The settings of sales-drop alerting: the rule (SalesDropRules) and where alerts go (AlertChannel).

Both are configured from the environment here (ETL_SALES_DROP_*, ETL_TIMEZONE, SLACK_*, DAGSTER_WEBSERVER_URL;
see the README's Sales analytics and alerts section).
"""

import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
from pydantic import Field

from etl_project.defs.sales_analytics.messengers import (
    DryRunMessenger,
    Messenger,
    SlackBotMessenger,
    SlackWebhookMessenger,
)
from etl_project.resources.environment import env_numbers, env_settings


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


class AlertChannel(dg.ConfigurableResource):
    """Slack through a bot token (SLACK_BOT_TOKEN + SLACK_CHANNEL) or an incoming webhook (SLACK_WEBHOOK_URL).

    The webhook wins when both are set. SLACK_API_URL replaces Slack's API base URL (tests point it at a
    local fake server). Secret values are only ever handed to the Slack client, never logged.
    """

    slack_bot_token: str | None = Field(default=None, description="Bot token (SLACK_BOT_TOKEN).")
    slack_channel: str | None = Field(default=None, description="Channel name or id (SLACK_CHANNEL).")
    slack_webhook_url: str | None = Field(
        default=None, description="Incoming webhook URL (SLACK_WEBHOOK_URL)."
    )
    slack_api_url: str | None = Field(
        default=None, description="Slack API base URL override (SLACK_API_URL)."
    )
    dagster_webserver_url: str = Field(
        default="http://127.0.0.1:3000",
        description="Base URL of the Dagster UI for links (DAGSTER_WEBSERVER_URL).",
    )

    def messenger(self, log: logging.Logger) -> Messenger:
        if self.slack_webhook_url:
            return SlackWebhookMessenger(self.slack_webhook_url)
        if self.slack_bot_token and self.slack_channel:
            return SlackBotMessenger(self.slack_bot_token, self.slack_channel, self.slack_api_url)
        if self.slack_bot_token or self.slack_channel:
            log.warning("SLACK_BOT_TOKEN and SLACK_CHANNEL must both be set; alerts are logged only")
        return DryRunMessenger(log)


@dg.definitions
def sales_alerting_resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "sales_drop_rules": SalesDropRules(
                **env_settings(as_of_date="ETL_SALES_DROP_AS_OF_DATE", timezone="ETL_TIMEZONE"),
                **env_numbers(
                    threshold_percent="ETL_SALES_DROP_THRESHOLD_PERCENT",
                    min_baseline_amount="ETL_SALES_DROP_MIN_BASELINE",
                ),
            ),
            "alert_channel": AlertChannel(
                **env_settings(
                    slack_bot_token="SLACK_BOT_TOKEN",
                    slack_channel="SLACK_CHANNEL",
                    slack_webhook_url="SLACK_WEBHOOK_URL",
                    slack_api_url="SLACK_API_URL",
                    dagster_webserver_url="DAGSTER_WEBSERVER_URL",
                )
            ),
        }
    )
