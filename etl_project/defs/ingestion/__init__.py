"""Ingestion: batch files in the shared directory become partitions of `batches` and rows in the event tables.

    partitions.py   the `batches` dynamic partitions (one per batch file) and which batch ids are valid
    assets.py       batch_event_tables: raw_events and the four event tables, one transaction per batch
    batch_results.py  one batch's load as Dagster sees it: materialisations with rejected rows, then checks
    checks.py       the per-batch checks: batch_file_readable, rows_accounted_for, rejected_share
    resources.py    DataQualityLimits (ETL_MAX_REJECTED_PERCENT)
    quarantine.py   quarantined_batch_job: retry or drop a file that could not be read
    jobs.py         load_batches_job
    sensors.py      batch_file_sensor: new files -> partitions and load runs
    late_data.py    replay_late_events_job and its schedule: rows whose references arrived later

The load itself (staging, validation, the one-transaction write) is the Dagster-free `etl_project.loading`.
"""
