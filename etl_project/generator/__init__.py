"""The faker-based event generator (events.py), free of Dagster: `etl generate`, `etl generate-history` and the
Dagster job in `etl_project/defs/generator/` use it; from_database.py reserves ids and reads the catalog for
batches generated next to a running platform, batch_ids.py names them.
"""
