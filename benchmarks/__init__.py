"""Benchmarks of the platform against the physical floor (`psql \\copy`) and the usual pandas pipeline.

Run `python -m benchmarks.run_benchmark --help` from the repository root (or `make bench`). These are
measurements, not tests: they print a table, write JSON under `.bench/`, and fail only when a load is wrong.
"""

# The code location's policy (its warning filters) applies to the benchmarks, which import defs/ modules directly.
import etl_project.definitions  # noqa: E402, F401
