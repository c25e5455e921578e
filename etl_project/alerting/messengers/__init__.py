"""Where alerts go. A destination is a class with `name` and `send(message)`; the sensors never know which."""

from etl_project.defs.alerting.messengers.base import AlertMessage, Messenger, MessengerError
from etl_project.defs.alerting.messengers.dry_run import DryRunMessenger
from etl_project.defs.alerting.messengers.slack import (
    SlackApiResource,
    SlackBotMessenger,
    SlackWebhookMessenger,
)

__all__ = [
    "AlertMessage",
    "DryRunMessenger",
    "Messenger",
    "MessengerError",
    "SlackApiResource",
    "SlackBotMessenger",
    "SlackWebhookMessenger",
]
