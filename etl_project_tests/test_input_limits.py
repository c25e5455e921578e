"""Inputs whose cost grew faster than their size are bounded: a long header quarantines its file in linear time,
a long or comma-filled line is one rejected row in bounded memory; load runs carry a maximum runtime (#25.3)."""

import json
import time
import tracemalloc
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
import yaml

from etl_project.defs.ingestion.assets import batch_event_tables
from etl_project.defs.ingestion.jobs import LOAD_RUN_MAX_RUNTIME_SECONDS, load_batches_job
from etl_project.defs.ingestion.partitions import batch_partitions
from etl_project.defs.ingestion.resources import DataQualityLimits
from etl_project.loading import BatchFileError, bounded_lines, load_batch
from etl_project.loading.batch_file import BatchFileStream
from etl_project.loading.opened_file import OpenedBatchFile
from etl_project.paths import PROJECT_ROOT
from etl_project.schemas import BATCH_FILE_COLUMNS
from etl_project_tests.helpers import count_rows, materialize_batches, quarantine_reason, quote

pytestmark = pytest.mark.every_postgres_major

HEADER = ",".join(quote(c) for c in BATCH_FILE_COLUMNS)
CREATED = "2025-04-20 09:20:00"
STORE = {"id": 1, "created_at": CREATED, "name": "Shop", "tax_id": 1, "status": "active"}


def _row(batch: str, payload: dict) -> str:
    return ",".join(quote(v) for v in (batch, "store_event", json.dumps(payload), CREATED))


def test_a_header_of_40k_columns_is_quarantined_at_once(instance, resources, shared_dir, db):
    names = ",".join(f'"column_{n}"' for n in range(40_000))
    (shared_dir / "wide.csv").write_text(f"{HEADER},{names}\n{_row('wide', STORE)}\n")
    started = time.monotonic()
    materialize_batches(instance, resources, ["wide"])
    assert time.monotonic() - started < 5  # 9.7 s on the quadratic header checks, mostly the run otherwise
    assert "header too long" in quarantine_reason(instance, "wide")
    assert set(count_rows(db, "wide").values()) == {0}


def test_a_20mb_line_of_commas_is_one_rejected_row_in_bounded_memory(database_url, shared_dir, db):
    path = shared_dir / "commas.csv"
    with open(path, "w") as out:
        out.write(f"{HEADER}\n{_row('commas', STORE)}\n")
        out.write("," * 20_000_000 + "\n")
        out.write(_row("commas", {**STORE, "id": 2}) + "\n")
    with OpenedBatchFile(path) as opened, BatchFileStream(opened) as stream:
        tracemalloc.start()
        while stream.read(1 << 20):
            pass
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < 70 * 1024 * 1024  # the line itself and the reader's buffers, not an entry per field

    conn = psycopg2.connect(database_url)
    report = load_batch(conn, "commas", path)
    conn.close()
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (3, 2, 1)
    with db.cursor() as cur:
        cur.execute("SELECT file_row, rejection_reason FROM etl.rejected_events WHERE batch_id = 'commas'")
        assert cur.fetchall() == [(2, "unreadable row: line with more than 100,000 commas")]


def test_a_too_long_line_is_rejected_and_inside_a_multiline_field_quarantines(
    database_url, shared_dir, monkeypatch, db
):
    monkeypatch.setattr(bounded_lines, "MAX_LINE_CHARS", 1000)
    long_row = _row("long", {**STORE, "id": 2, "name": "x" * 5000})
    path = shared_dir / "long.csv"
    # a line of 1000+ characters here stands for one of 64 MiB+; PostgreSQL's COPY takes such a line (in
    # bounded memory, up to its own limits), so the file is sent to Python's reader with a mixed quoting style
    mixed_style = _row("long", {**STORE, "name": "a \\ b"})  # a backslash next to doubled quotes
    path.write_text(f"{HEADER}\n{mixed_style}\n{long_row}\n")
    conn = psycopg2.connect(database_url)
    report = load_batch(conn, "long", path)
    assert (report.rows_loaded, report.rejected_by_reason()) == (1, {"unreadable row": 1})

    payload = '{"name": "a \\\\ b\n' + "x" * 5000 + '"}'  # the long line continues a quoted field
    spanning = ",".join(quote(v) for v in ("span", "store_event", payload, CREATED))
    (shared_dir / "span.csv").write_text(f"{HEADER}\n{spanning}\n")
    with pytest.raises(BatchFileError, match="inside a field spanning lines"):
        load_batch(conn, "span", shared_dir / "span.csv")
    conn.close()
    assert set(count_rows(db, "span").values()) == {0}


def test_load_runs_carry_a_maximum_runtime_that_run_monitoring_enforces(instance, resources, shared_dir):
    instance_yaml = yaml.safe_load(Path(PROJECT_ROOT, "dagster.local.yaml").read_text())
    assert instance_yaml["run_monitoring"]["enabled"] is True
    (shared_dir / "b1.csv").write_text(f"{HEADER}\n{_row('b1', STORE)}\n")
    instance.add_dynamic_partitions(batch_partitions.name, ["b1"])
    job = dg.Definitions(
        assets=[batch_event_tables],
        jobs=[load_batches_job],
        resources={**resources, "data_quality_limits": DataQualityLimits()},
    ).resolve_job_def("load_batches_job")
    result = job.execute_in_process(instance=instance, partition_key="b1")
    tags = instance.get_run_by_id(result.run_id).tags
    assert tags["dagster/max_runtime"] == str(LOAD_RUN_MAX_RUNTIME_SECONDS)
