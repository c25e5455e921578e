"""Alerting: every alert kind reaches people once, in order, through one outbox, to every Slack destination.

resources.py                AlertChannel: the destinations (webhook, bot channels, dry run) and the UI's address
outbox.py                   the PostgreSQL outbox (utilities.alert_outbox): queued once, delivered in order, retried
episodes.py                 a lasting problem is announced when it starts (and for some kinds when it ends)
check_evaluations.py        reading completed check evaluations after a cursor
check_failure_sensor.py     checks marked etl/alert_on_failure -> Slack (the per-batch data-quality checks)
check_failure_message.py    the text of such an alert
freshness.py                freshness checks on the event assets and the sensor that evaluates them
silence_sensor.py           "ingestion is silent" / "data is flowing again"
quarantine_sensor.py        a quarantined file, once per file version
run_failure_sensor.py       a failed run, once
messengers/                 the destinations: Slack bot (dagster-slack's SlackResource), webhook, dry run
The sales verdict's alerts are sent by sales_analytics' sales_drop_slack_sensor through the same outbox.
"""
