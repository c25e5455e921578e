"""Test support shared by the tests (etl_project_tests), the benchmarks and the scripts; never imported by the
product (an import-linter contract).

batch_files.py       a generated valid batch, raw rows written field by field (`write_generated_batch`, ...)
fake_slack.py        a fake Slack Web API and incoming webhook on a local port (`FakeSlack`)
legacy_database.py   the legacy pipeline's DDL (`LEGACY_DDL`) and a database in its shape
legacy_files.py      batch files as the legacy pipeline wrote them
legacy_load.py       the legacy pipeline's SQL load (the baseline the benchmark and a test compare with)
sales_history.py     a sales history with known drops (`history_events`, `AS_OF`)
latency_batches.py   the history and drop batches of the end-to-end latency benchmark
soak_verdicts.py     the soak benchmark's intervals and flat/bounded verdicts (pure arithmetic, tested)
"""
