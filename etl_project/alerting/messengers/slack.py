"""Slack destinations: a bot posting to a channel (`chat.postMessage`) or an incoming webhook.

The bot's client is built by `slack_web_client` (dagster-slack's SlackResource, extended in
`etl_project/defs/alerting/resources.py`, builds it the same way)."""

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from etl_project.alerting.messengers.base import AlertMessage, MessengerError, redact

#: Seconds to wait for Slack before counting the attempt as failed (the sensor retries on a later tick).
SLACK_TIMEOUT_SECONDS = 10

#: slack_sdk logs each request's URL and body at DEBUG, and for a webhook the URL is the secret: its clients
#: get a logger of their own that never emits below INFO, whatever the root logger's level.
_slack_client_log = logging.getLogger("etl_project.alerting.messengers.slack_client")
_slack_client_log.setLevel(logging.INFO)


def slack_web_client(token: str, api_url: str | None = None) -> WebClient:
    """A Slack Web API client with what the platform needs: another API base URL (a proxy, or a fake Slack in
    tests), a timeout, and a logger that never prints the request."""
    if api_url:
        return WebClient(
            token=token,
            timeout=SLACK_TIMEOUT_SECONDS,
            logger=_slack_client_log,
            base_url=api_url.rstrip("/") + "/",
        )
    return WebClient(token=token, timeout=SLACK_TIMEOUT_SECONDS, logger=_slack_client_log)


class SlackBotMessenger:
    """Posts with `chat.postMessage` as a bot to one channel, or to a person by user id (a direct message)."""

    def __init__(self, client: WebClient, channel: str):
        self._client = client
        self._token = client.token
        self._channel = channel
        self.name = channel

    def send(self, message: AlertMessage) -> None:
        try:
            response = self._client.chat_postMessage(
                channel=self._channel, text=message.as_text(), blocks=message.as_blocks(), unfurl_links=False
            )
        except SlackApiError as err:
            error = err.response.get("error") if err.response is not None else None
            status = err.response.status_code if err.response is not None else "?"
            raise MessengerError(f"Slack refused the message (HTTP {status}, error {error!r})") from None
        except Exception as err:  # network errors: the class name and text, minus any secret
            raise MessengerError(
                redact(f"Slack unreachable: {type(err).__name__}: {err}", [self._token])
            ) from None
        if not response.get("ok", False):
            raise MessengerError(f"Slack refused the message (error {response.get('error')!r})")


class SlackWebhookMessenger:
    """Posts to an incoming webhook (SLACK_WEBHOOK_URL); the URL is the secret and is never shown."""

    name = "webhook"

    def __init__(self, webhook_url: str):
        self._client = WebhookClient(webhook_url, timeout=SLACK_TIMEOUT_SECONDS, logger=_slack_client_log)
        self._url = webhook_url

    def send(self, message: AlertMessage) -> None:
        try:
            response = self._client.send(
                text=message.as_text(), blocks=message.as_blocks(), unfurl_links=False
            )
        except Exception as err:
            raise MessengerError(
                redact(f"Slack unreachable: {type(err).__name__}: {err}", [self._url])
            ) from None
        if response.status_code != 200:
            body = redact(str(response.body)[:200], [self._url])
            raise MessengerError(f"Slack webhook refused the message (HTTP {response.status_code}: {body})")
