"""The faker-based event generator (events.py), free of Dagster: `etl generate`, `etl generate-history` and the
Dagster job in `etl_project/defs/generator/` use it.
"""
