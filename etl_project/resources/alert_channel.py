"""Which channel alerts go to, configured from the environment; no settings means a logged dry run."""

import logging

import dagster as dg
from pydantic import Field

from etl_project.messengers import DryRunMessenger, Messenger, SlackBotMessenger, SlackWebhookMessenger


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
