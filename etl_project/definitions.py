"""The code location: every asset, check, job, schedule, sensor and resource of the platform."""

import os

import dagster as dg

from etl_project.assets.analytics import store_daily_sales
from etl_project.assets.ingestion import batch_event_tables, load_batches_job
from etl_project.checks.sales_drop import sales_drop_check
from etl_project.generator.job import generate_batch_job, generate_batch_schedule
from etl_project.late_data import replay_late_events_job, replay_late_events_schedule
from etl_project.resources import EtlDatabase, SharedDirectory
from etl_project.resources.alert_channel import AlertChannel
from etl_project.resources.sales_drop_rules import SalesDropRules
from etl_project.sensors.analytics_automation import analytics_automation_sensor
from etl_project.sensors.batch_file_sensor import batch_file_sensor
from etl_project.sensors.partition_retention import PartitionRetention, batch_partition_retention_sensor
from etl_project.sensors.sales_drop_slack_sensor import sales_drop_slack_sensor


def _settings(**names: str) -> dict[str, dg.EnvVar]:
    """`field=EnvVar(NAME)` for each variable that is set; unset ones keep the resource's default.

    Values stay in the environment and are resolved in each process: the UI shows the variable's name,
    never a token or a password.
    """
    return {field: dg.EnvVar(name) for field, name in names.items() if os.getenv(name)}


def _numbers(**names: str) -> dict[str, float]:
    """Numeric settings (Dagster's EnvVar has no float form); not secrets, so read here."""
    return {field: float(os.environ[name]) for field, name in names.items() if os.getenv(name)}


def build_resources() -> dict[str, dg.ConfigurableResource]:
    """Every resource configured from the environment; see the README's Configuration section."""
    return {
        "etl_database": EtlDatabase(**_settings(url="ETL_DATABASE_URL", timezone="ETL_TIMEZONE")),
        "shared_directory": SharedDirectory(
            **_settings(path="ETL_SHARED_DATA_DIR"), **_numbers(settle_seconds="ETL_FILE_SETTLE_SECONDS")
        ),
        "sales_drop_rules": SalesDropRules(
            **_settings(as_of_date="ETL_SALES_DROP_AS_OF_DATE", timezone="ETL_TIMEZONE"),
            **_numbers(
                threshold_percent="ETL_SALES_DROP_THRESHOLD_PERCENT",
                min_baseline_amount="ETL_SALES_DROP_MIN_BASELINE",
            ),
        ),
        "partition_retention": PartitionRetention(
            **{k: int(v) for k, v in _numbers(retention_days="ETL_PARTITION_RETENTION_DAYS").items()}
        ),
        "alert_channel": AlertChannel(
            **_settings(
                slack_bot_token="SLACK_BOT_TOKEN",
                slack_channel="SLACK_CHANNEL",
                slack_webhook_url="SLACK_WEBHOOK_URL",
                slack_api_url="SLACK_API_URL",
                dagster_webserver_url="DAGSTER_WEBSERVER_URL",
            )
        ),
    }


defs = dg.Definitions(
    assets=[batch_event_tables, store_daily_sales],
    asset_checks=[sales_drop_check],
    jobs=[load_batches_job, generate_batch_job, replay_late_events_job],
    schedules=[generate_batch_schedule, replay_late_events_schedule],
    sensors=[
        batch_file_sensor,
        sales_drop_slack_sensor,
        analytics_automation_sensor,
        batch_partition_retention_sensor,
    ],
    resources=build_resources(),
    # Steps run in the run's own process: a step subprocess costs more than these steps' work.
    executor=dg.in_process_executor,
)
