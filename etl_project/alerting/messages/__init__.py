"""The message builders, one module per kind of alert: what people read."""

from etl_project.alerting.messages.check_failure import check_failure_message
from etl_project.alerting.messages.ingestion import (
    flowing_again_message,
    quarantined_file_message,
    silence_message,
)
from etl_project.alerting.messages.run_failure import run_failure_message
from etl_project.alerting.messages.sales_drop import CHECK_PATH, no_sales_data_message, sales_drop_message

__all__ = [
    "CHECK_PATH",
    "check_failure_message",
    "flowing_again_message",
    "no_sales_data_message",
    "quarantined_file_message",
    "run_failure_message",
    "sales_drop_message",
    "silence_message",
]
