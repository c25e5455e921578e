"""What the soak samples every few seconds: database sizes, runs, partitions and compute-log files stored,
each process' memory, the webserver's answer time; and every run's creation and start, kept before housekeeping
deletes the run.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import psycopg2
from dagster._core.scheduler.instigation import InstigatorType

from benchmarks.latency_probe import epoch
from benchmarks.soak_processes import Deployment
from etl_project.defs.ingestion.partitions import BATCH_PARTITIONS_NAME
from etl_project.store import processed_files
from etl_testkit.soak_verdicts import RunTiming, Sample

SENSOR_NAME = "batch_file_sensor"


class SoakObserver:
    """Takes the samples: database sizes, runs and partitions stored, processes' memory, the UI's answer time;
    keeps every run's creation and start before housekeeping deletes it."""

    def __init__(self, etl_url: str, storage_url: str, instance: dg.DagsterInstance, deployment: Deployment):
        self.etl_url, self.storage_url = (
            etl_url,
            storage_url.replace("postgresql+psycopg2://", "postgresql://"),
        )
        self.instance, self.deployment = instance, deployment
        self.compute_logs = Path(instance.root_directory) / "storage"
        self.runs: dict[str, tuple[RunTiming, str, str]] = {}
        self._runs_seen_until = datetime.now(timezone.utc) - timedelta(minutes=5)

    def batches_done(self) -> int:
        with psycopg2.connect(self.etl_url) as conn, conn.cursor() as cur:
            totals = processed_files.ledger_totals(cur)
        conn.close()
        return totals.files_loaded + totals.files_quarantined

    def _size(self, url: str) -> int:
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute("SELECT pg_database_size(current_database())")
            size = cur.fetchone()[0]
        conn.close()
        return size

    def _follow_runs(self) -> None:
        now = datetime.now(timezone.utc)
        records = self.instance.get_run_records(
            filters=dg.RunsFilter(updated_after=self._runs_seen_until - timedelta(seconds=30))
        )
        self._runs_seen_until = now
        for record in records:
            run = record.dagster_run
            timing = RunTiming(epoch(record.create_timestamp), record.start_time)
            self.runs[run.run_id] = (timing, run.job_name, run.status.value)

    def compute_log_files(self) -> int:
        return sum(len(names) for _, _, names in os.walk(self.compute_logs))

    def sample(self) -> Sample:
        self.deployment.check_alive()
        self._follow_runs()
        return Sample(
            at=time.time(),
            batches_done=self.batches_done(),
            dagster_db_bytes=self._size(self.storage_url),
            etl_db_bytes=self._size(self.etl_url),
            runs_stored=self.instance.get_runs_count(),
            partitions=len(self.instance.get_dynamic_partitions(BATCH_PARTITIONS_NAME)),
            rss_mb=self.deployment.rss_mb(),
            ui_query_s=self.deployment.ui_query_seconds(),
            compute_log_files=self.compute_log_files(),
        )

    def file_sensor_ticks(self) -> list[tuple[float, float]]:
        for state in self.instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
            if state.instigator_name == SENSOR_NAME:
                ticks = self.instance.get_ticks(state.instigator_origin_id, state.selector_id)
                return sorted((t.timestamp, t.end_timestamp) for t in ticks if t.end_timestamp)
        return []
