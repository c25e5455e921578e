"""The sample-data generator in Dagster: generate_batch_job (jobs.py) and its every-minute schedule
(schedules.py). The events come from the Dagster-free `etl_project.generator.events`.
"""
