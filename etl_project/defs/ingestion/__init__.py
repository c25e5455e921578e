"""Ingestion: batch files in the shared directory become partitions of `batches` and rows in the event tables.

    partitions.py   the `batches` dynamic partitions (one per batch file) and which batch ids are valid
    assets.py       batch_event_tables: raw_events and the four event tables, one transaction per batch
    jobs.py         load_batches_job
    sensors.py      batch_file_sensor: new files -> partitions and load runs
    late_data.py    replay_late_events_job and its schedule: rows whose references arrived later

The load itself (staging, validation, the one-transaction write) is the Dagster-free `etl_project.loading`.
"""
