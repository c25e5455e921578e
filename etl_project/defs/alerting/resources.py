"""Where alerts go (AlertChannel), configured from SLACK_* and DAGSTER_WEBSERVER_URL (see
docs/reference/configuration.md)."""

import logging

import dagster as dg
from dagster_slack import SlackResource
from pydantic import Field
from slack_sdk import WebClient

from etl_project.alerting.messengers import (
    DryRunMessenger,
    Messenger,
    SlackBotMessenger,
    SlackWebhookMessenger,
    slack_web_client,
)
from etl_project.resources.environment import env_settings


class SlackApiResource(SlackResource):
    """dagster-slack's SlackResource with what it lacks: another API base URL (a proxy, or a fake Slack in
    tests), a timeout, and a logger that never prints the request (`slack_web_client`)."""

    api_url: str | None = Field(default=None, description="Slack API base URL override (SLACK_API_URL).")

    def get_client(self) -> WebClient:
        return slack_web_client(self.token, self.api_url)


class AlertChannel(dg.ConfigurableResource):
    """Every configured Slack destination at once: an incoming webhook (SLACK_WEBHOOK_URL) and a bot
    (SLACK_BOT_TOKEN) posting to each of SLACK_CHANNEL's comma-separated channels or user ids. Each is
    optional; with none, alerts are logged (dry run). Secret values only ever reach the Slack clients.
    """

    slack_bot_token: str | None = Field(default=None, description="Bot token (SLACK_BOT_TOKEN).")
    slack_channel: str | None = Field(
        default=None,
        description="The bot's channels or user ids, comma-separated, e.g. `#sales-alerts,U0123` (SLACK_CHANNEL).",
    )
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

    def bot_channels(self) -> list[str]:
        return [c.strip() for c in (self.slack_channel or "").split(",") if c.strip()]

    def messengers(self, log: logging.Logger) -> list[Messenger]:
        """One messenger per destination, webhook first; the dry run when none is configured."""
        found: list[Messenger] = []
        if self.slack_webhook_url:
            found.append(SlackWebhookMessenger(self.slack_webhook_url))
        channels = self.bot_channels()
        if self.slack_bot_token and channels:
            slack = SlackApiResource(token=self.slack_bot_token, api_url=self.slack_api_url)
            found += [SlackBotMessenger(slack.get_client(), channel) for channel in channels]
        elif self.slack_bot_token or channels:
            log.warning("SLACK_BOT_TOKEN and SLACK_CHANNEL must both be set for the bot; it sends nothing")
        return found or [DryRunMessenger(log)]

    def destinations(self) -> list[str]:
        """The names of the destinations, as the outbox queues a message for each (no client is built)."""
        names = [SlackWebhookMessenger.name] if self.slack_webhook_url else []
        if self.slack_bot_token and self.bot_channels():
            names += self.bot_channels()
        return names or [DryRunMessenger.name]

    def link(self, path: str) -> str:
        """An address in the Dagster UI, e.g. link("/runs/<id>")."""
        return self.dagster_webserver_url.rstrip("/") + path


@dg.definitions
def alerting_resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
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
