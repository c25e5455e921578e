"""The faker-based event generator: a Dagster job, its schedule and the `etl generate` command."""
