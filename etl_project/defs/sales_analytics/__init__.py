"""Sales analytics: store_daily_sales, the sales-drop check, its daily verdict and its Slack alerts.

assets.py               store_daily_sales
checks.py               sales_drop_check and its automation condition
verdict.py              when a day's verdict is due (ETL_SALES_DROP_SCHEDULE)
schedules.py            daily_sales_verdict_schedule and its job
sensors.py              analytics_automation_sensor, sales_drop_slack_sensor (queues the verdict's alerts)
pending_refresh.py      pending_sales_refresh_sensor and its job: a refresh for what the change log holds
refresh_result.py       one refresh and its metadata, shared by the asset and the load runs (REFRESHES_TAG)
resources.py            SalesDropRules (thresholds, as-of day, verdict schedule)
The rule, the judged window and the verdict are `etl_project.sales_drop`'s (Dagster-free); the messages, the
outbox and the destinations are `etl_project.alerting`'s.
"""
