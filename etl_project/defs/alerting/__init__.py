"""Alerting's Dagster side: the sensors that queue alerts and the one that delivers them. What is queued, the
messages and the destinations are the Dagster-free library `etl_project.alerting`.

resources.py                AlertChannel: the destinations (webhook, bot channels, dry run) and the UI's address
delivery_sensor.py          alert_delivery_sensor: the one sender of the outbox
check_evaluations.py        reading completed check evaluations after a cursor
check_failure_sensor.py     checks marked etl/alert_on_failure (the per-batch data-quality checks)
freshness.py                freshness checks on the event assets and the sensor that evaluates them
silence_sensor.py           "ingestion is silent" / "data is flowing again"
quarantine_sensor.py        a quarantined file, once per file version
run_failure_sensor.py       a failed run, once
The sales verdict's alerts are queued by sales_analytics' sales_drop_slack_sensor.
"""
