"""The destination used when none is configured: log the message that would have been sent."""

import logging

from etl_project.alerting.messengers.base import AlertMessage


class DryRunMessenger:
    """Logs instead of sending, so a platform without Slack settings still shows its alerts."""

    name = "dry-run (log only)"

    def __init__(self, log: logging.Logger):
        self._log = log

    def send(self, message: AlertMessage) -> None:
        self._log.info(f"[dry run: no alert channel configured] would send:\n{message.as_text()}")
