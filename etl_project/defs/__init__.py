"""Everything Dagster runs, one folder per feature, loaded by `dg.load_from_defs_folder` (etl_project/definitions.py).

    resources.py       etl_database, shared_directory: the resources every feature uses
    ingestion/         batch files -> the event tables: batch_event_tables, load_batches_job,
                       batch_file_sensor, the `batches` partitions, the late-data replay job and schedule
    sales_analytics/   store_daily_sales (refreshed for its pending change log), sales_drop_check, its daily
                       verdict schedule and Slack sensor
    alerting/          the alert outbox and Slack destinations; freshness, silence, failed-run, quarantined-file
                       and failed-check alerts
    generator/         generate_batch_job and its every-minute schedule
    operations/        batch_partition_retention_sensor; dagster_housekeeping_job and its hourly schedule (old runs)

Every module is imported and the Dagster objects at its top level (assets, checks, jobs, schedules, sensors,
asset specs, also imported ones) become part of the code location. A `resources.py` provides its resources
through a `@dg.definitions` function instead; a module with such a function contributes only what that
function returns, so keep assets, sensors and the like out of those modules. Plain helpers (the outbox, the
messengers, the alert text) live next to the definitions that use them.
"""
