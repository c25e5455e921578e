"""Keeping the platform healthy for years.

sensors.py          batch_partition_retention_sensor: drops old batch partitions (PartitionRetention, resources.py)
housekeeping.py     dagster_housekeeping_job and its hourly schedule: deletes old runs (RunRetention,
                    run_retention.py) through run_deletion.py, sparing protected_runs.py's, then VACUUMs
                    (dagster_storage.py)
"""
