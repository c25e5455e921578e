"""Sales analytics: store_daily_sales, the sales-drop check, its daily verdict and its Slack alerts.

assets.py               store_daily_sales
checks.py               sales_drop_check and its automation condition (the rule's SQL is etl_db/queries/sales_drop.sql)
judged_window.py        what the check judges, fingerprinted: store_daily_sales' data version
verdict.py              when a day's verdict is due (ETL_SALES_DROP_SCHEDULE)
schedules.py            daily_sales_verdict_schedule and its job
sensors.py              analytics_automation_sensor, sales_drop_slack_sensor
pending_refresh.py      pending_sales_refresh_sensor and its job: a refresh for what the change log holds
resources.py            SalesDropRules (thresholds, as-of day, verdict schedule)
sales_drop_message.py   the text of a sales alert
The outbox and the Slack destinations are the alerting feature's (etl_project/defs/alerting/).
"""
