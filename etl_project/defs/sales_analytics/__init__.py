"""Sales analytics and sales-drop alerting.

assets.py               store_daily_sales and its automation condition
checks.py               sales_drop_check (the rule's SQL is etl_db/queries/sales_drop.sql)
sensors.py              analytics_automation_sensor, sales_drop_slack_sensor
resources.py            SalesDropRules (thresholds, as-of day) and AlertChannel (which channel)
alert_outbox.py         the PostgreSQL outbox: each (store, day) alerted once, in order, retried
sales_drop_message.py   the text of an alert
messengers/             the channels: Slack bot, Slack webhook, dry run
"""
