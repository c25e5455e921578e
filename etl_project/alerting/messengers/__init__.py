"""Where alerts go. A destination is a class with `name` and `send(message)`; the sensors never know which."""

from etl_project.alerting.messengers.base import AlertMessage, Messenger, MessengerError
from etl_project.alerting.messengers.dry_run import DryRunMessenger
from etl_project.alerting.messengers.slack import SlackBotMessenger, SlackWebhookMessenger, slack_web_client

__all__ = [
    "AlertMessage",
    "DryRunMessenger",
    "Messenger",
    "MessengerError",
    "SlackBotMessenger",
    "SlackWebhookMessenger",
    "slack_web_client",
]
