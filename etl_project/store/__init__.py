"""The platform's tables, one owner each: every query of a table of `utilities` or `etl` that more than its
writer reads or writes is in that table's module here. Dagster-free; depends on psycopg2 only.

processed_files.py   utilities.processed_files, the ledger of batch files (`FileStatus`: loaded, quarantined,
                     dropped) and the raw_id range a load owns
rejected_events.py   etl.rejected_events: the reason grammar `<category>: <detail>` (parsed only here) and the
                     reads others make of it
sales_changes.py     etl.store_daily_sales_changes, the change log of store_daily_sales
alert_outbox.py      utilities.alert_outbox: queued alerts per destination (`OutboxState`)
alert_episodes.py    utilities.alert_episodes: lasting problems announced once
sales_drop_alerts.py utilities.sales_drop_alerts: (store, day) drops announced
locks.py             every advisory lock id

The loader's set-based statements (`etl_project/loading/statements/`) write the event tables, raw_events and
rejected_events inside a load's transaction; those tables are the loader's, and others read them through here.
"""
