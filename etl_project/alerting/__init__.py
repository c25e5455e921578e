"""Alerting, Dagster-free: what people are told, queued once in the outbox, delivered in order to every destination.

outbox.py          the outbox's logic: `enqueue_alert` (once per key and destination, in the caller's
                   transaction) and `deliver_pending` (each destination's messages in order, retried until
                   accepted); the one dispatcher sensor (defs/alerting/delivery_sensor.py) is its only caller
evaluations.py     `CheckEvaluation`: a completed check evaluation as the alerts read it (no Dagster types)
producers.py       what each kind of alert queues: failed checks (per batch and episode), silent ingestion,
                   quarantined files, failed runs, sales-drop verdicts
messages/          the message builders, one module per kind (`AlertMessage`: title, lines, link)
messengers/        the destinations: Slack bot, Slack webhook, dry run (`Messenger`)

The tables are `etl_project.store`'s (alert_outbox, alert_episodes, sales_drop_alerts). The sensors under
`etl_project/defs/alerting/` read Dagster's instance and call these functions; they never send.
"""
