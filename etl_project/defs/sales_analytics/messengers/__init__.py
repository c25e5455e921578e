"""Where alerts go. A channel is a class with `name` and `send(message)`; the sensors never know which."""

from etl_project.defs.sales_analytics.messengers.base import AlertMessage, Messenger, MessengerError
from etl_project.defs.sales_analytics.messengers.dry_run import DryRunMessenger
from etl_project.defs.sales_analytics.messengers.slack import SlackBotMessenger, SlackWebhookMessenger

__all__ = [
    "AlertMessage",
    "DryRunMessenger",
    "Messenger",
    "MessengerError",
    "SlackBotMessenger",
    "SlackWebhookMessenger",
]
