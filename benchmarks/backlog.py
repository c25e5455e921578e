"""Scenario `backlog`: hundreds of small batch files arriving at once, loaded by a real daemon.

Why: after an outage (or on a busy day) files pile up. What matters then is not COPY speed but the platform's
overheads: the sensor must cover the backlog with few runs (a run costs seconds of process start-up), and the
daemon, code location and run workers must drain it in minutes. So this runs the real thing: `dagster-daemon`
with the repository's dagster.local.yaml (PostgreSQL storage, queued run coordinator) and a workspace that loads
`etl_project.definitions`, exactly as `make dev` does but without the webserver.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import psycopg2
from dagster._core.scheduler.instigation import InstigatorType
from faker import Faker

from benchmarks.report import Target, format_table
from benchmarks.support import (
    BenchmarkError,
    BenchServer,
    log,
    sqlalchemy_url,
    tail,
)
from etl_project.defs.ingestion.jobs import load_batches_job
from etl_project.defs.ingestion.sensors import run_count
from etl_project.generator.events import (
    Catalog,
    SequentialIds,
    generate_events,
    write_batch_file,
)
from etl_project.paths import PROJECT_ROOT
from etl_project.schemas import ORDER_EVENT, PRODUCT_EVENT, STORE_EVENT
from etl_project.store import processed_files

SENSOR_NAME = "batch_file_sensor"
#: Issue 21.3: first sensor tick -> every file loaded with all its checks recorded (every load run ended).
MAX_SECONDS = 60.0
#: Each file's entity ids start at `index * IDS_PER_FILE`; a default batch uses at most 10 per table.
IDS_PER_FILE = 1000
CREATED_AT = datetime(2025, 4, 20, 9, 0)
POLL_SECONDS = 0.25
FINISHED_STATUSES = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
#: Inherited variables that would point the daemon at other storage, directories or a real Slack.
_INHERITED_PREFIXES = ("DAGSTER_", "ETL_", "SLACK_")


@dataclass
class BacklogResult:
    files: int
    completed: bool
    seconds_from_first_tick: float | None
    #: first sensor tick -> every load run ended: each batch's materialisations and checks recorded
    seconds_to_all_checks: float | None
    seconds_from_daemon_start: float
    daemon_start_to_first_tick_s: float | None
    files_loaded: int
    files_quarantined: int
    rows_loaded: int
    rows_rejected: int
    load_runs: int
    load_run_statuses: dict[str, int]
    other_runs: dict[str, int]
    sensor_ticks_with_runs: int
    daemon_log: str
    targets: list[Target] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "targets": [t.as_dict() for t in self.targets]}


def write_backlog(shared: Path, count: int) -> None:
    """`count` small valid batches from the project's generator, appearing in `shared` all at once.

    Each file has its own seed and a disjoint id range (so no batch rejects another's ids as duplicates). They
    are written next to the shared directory and renamed into it together, as a restored backlog would appear.
    """
    staging = shared.parent / f"{shared.name}-staging"
    fake = Faker()
    names = []
    for index in range(1, count + 1):
        fake.seed_instance(index)
        first_id = index * IDS_PER_FILE
        created_at = CREATED_AT + timedelta(minutes=index)
        events = generate_events(
            fake=fake,
            rng=random.Random(index),
            ids=SequentialIds({t.table: first_id for t in (STORE_EVENT, PRODUCT_EVENT, ORDER_EVENT)}),
            catalog=Catalog(),
            created_at=created_at,
        )
        names.append(write_batch_file(staging, f"backlog_{index:05d}", created_at, events).name)
    shared.mkdir(parents=True)
    for name in names:
        os.replace(staging / name, shared / name)
    staging.rmdir()


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set variables for the duration (dagster.yaml reads DAGSTER_POSTGRES_URL when the instance opens)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def dagster_home_and_workspace(folder: Path) -> tuple[Path, Path]:
    """A Dagster home with the repository's dagster.local.yaml, and a workspace loading the code location (the
    daemon starts its code server from it), both in `folder`."""
    home = folder / "dagster_home"
    home.mkdir(parents=True)
    shutil.copyfile(PROJECT_ROOT / "dagster.local.yaml", home / "dagster.yaml")
    workspace = folder / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - python_module:\n      module_name: etl_project.definitions\n"
        f"      working_directory: {PROJECT_ROOT}\n      location_name: etl_project\n",
        encoding="utf-8",
    )
    return home, workspace


def daemon_environment(**values: str) -> dict[str, str]:
    """This process' environment without the settings that would point the daemon elsewhere, plus `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_PREFIXES)}
    env.update(values)
    return env


def open_instance(home: Path, storage_url: str) -> dg.DagsterInstance:
    """The instance the daemon will use, opened here first (which creates Dagster's schema)."""
    with _environment(DAGSTER_POSTGRES_URL=storage_url):
        return dg.DagsterInstance.from_config(str(home))


@contextmanager
def running_daemon(
    home: Path, workspace: Path, env: dict[str, str], log_path: Path
) -> Iterator[subprocess.Popen]:
    """`dagster-daemon run` in a session of its own, so that stopping it also stops its code server and runs."""
    daemon = Path(sys.executable).with_name("dagster-daemon")
    with open(log_path, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [str(daemon), "run", "-w", str(workspace)],
            cwd=PROJECT_ROOT,
            env={**env, "DAGSTER_HOME": str(home)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        _stop_process_group(proc)


def _stop_process_group(proc: subprocess.Popen) -> None:
    """SIGTERM the daemon's process group (every process in it is ours), SIGKILL whatever outlives 30 s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.time() + 30
    while time.time() < deadline and _group_alive(proc.pid):
        proc.poll()  # reap the daemon itself; its children are reaped by init once it is gone
        time.sleep(0.2)
    if _group_alive(proc.pid):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _processed_files(url: str) -> tuple[int, int, int, int]:
    """(files loaded, files quarantined, rows loaded, rows rejected) recorded in utilities.processed_files."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            totals = processed_files.ledger_totals(cur)
            return totals.files_loaded, totals.files_quarantined, totals.rows_loaded, totals.rows_rejected
    finally:
        conn.close()


def _sensor_ticks(instance: dg.DagsterInstance) -> list:
    """Ticks of batch_file_sensor recorded by the daemon, oldest first."""
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.instigator_name == SENSOR_NAME:
            ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id)
            return sorted(ticks, key=lambda t: t.timestamp)
    return []


def _load_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return list(instance.get_runs(dg.RunsFilter(job_name=load_batches_job.name)))


def _log_tail(path: Path) -> str:
    return tail(path.read_text(encoding="utf-8", errors="replace"), lines=40)


def run_backlog_scenario(
    server: BenchServer, *, files: int, run_dir: Path, timeout_s: float
) -> BacklogResult:
    """Drop `files` batches at once, start daemon + code location, time until every file is recorded loaded."""
    etl_url = server.fresh_database("etl_bench_backlog")
    storage_url = sqlalchemy_url(server.fresh_database("etl_bench_dagster", migrate=False))
    folder = run_dir / "backlog"
    home, workspace = dagster_home_and_workspace(folder)
    shared = folder / "shared_data"
    log(f"backlog: writing {files} batch files")
    write_backlog(shared, files)
    env = daemon_environment(
        DAGSTER_POSTGRES_URL=storage_url,
        ETL_DATABASE_URL=etl_url,
        ETL_SHARED_DATA_DIR=str(shared),
        ETL_FILE_SETTLE_SECONDS="0",
        ETL_GENERATOR_ENABLED="false",
    )
    daemon_log = folder / "daemon.log"
    instance = open_instance(home, storage_url)
    with instance, running_daemon(home, workspace, env, daemon_log) as daemon:
        log(f"backlog: daemon started (log: {daemon_log}); waiting for {files} files to load")
        started = time.time()
        counts = _processed_files(etl_url)
        while counts[0] + counts[1] < files and time.time() - started < timeout_s:
            if daemon.poll() is not None:
                raise BenchmarkError(
                    f"dagster-daemon exited with {daemon.returncode}:\n{_log_tail(daemon_log)}"
                )
            failed = [r.run_id for r in _load_runs(instance) if r.status == dg.DagsterRunStatus.FAILURE]
            if failed:
                raise BenchmarkError(f"load runs failed: {failed}\n{_log_tail(daemon_log)}")
            time.sleep(POLL_SECONDS)
            counts = _processed_files(etl_url)
        finished = time.time()
        completed = counts[0] == files
        log(f"backlog: {counts[0]} loaded, {counts[1]} quarantined after {finished - started:.1f} s")
        deadline = time.time() + 120
        while time.time() < deadline and any(r.status not in FINISHED_STATUSES for r in _load_runs(instance)):
            time.sleep(POLL_SECONDS)  # until every run has recorded its materialisations and checks
        all_checked = time.time()
        load_runs = _load_runs(instance)
        other_runs = Counter(r.job_name for r in instance.get_runs() if r.job_name != load_batches_job.name)
        ticks = _sensor_ticks(instance)
    first_tick = ticks[0].timestamp if ticks else None
    result = BacklogResult(
        files=files,
        completed=completed,
        seconds_from_first_tick=(finished - first_tick) if first_tick and completed else None,
        seconds_to_all_checks=(all_checked - first_tick) if first_tick and completed else None,
        seconds_from_daemon_start=finished - started,
        daemon_start_to_first_tick_s=(first_tick - started) if first_tick else None,
        files_loaded=counts[0],
        files_quarantined=counts[1],
        rows_loaded=counts[2],
        rows_rejected=counts[3],
        load_runs=len(load_runs),
        load_run_statuses=dict(Counter(r.status.value for r in load_runs)),
        other_runs=dict(other_runs),
        sensor_ticks_with_runs=sum(1 for t in ticks if t.run_ids),
        daemon_log=str(daemon_log.relative_to(PROJECT_ROOT)),
    )
    elapsed = result.seconds_to_all_checks or result.seconds_from_daemon_start
    result.targets = [
        Target(  # an unfinished backlog misses the target whatever the timeout was
            f"backlog of {files} files loaded, with their checks"
            + ("" if completed else f" (unfinished after {elapsed:.0f} s)"),
            elapsed if completed else max(elapsed, MAX_SECONDS),
            MAX_SECONDS,
            "<",
            " s",
        ),
        Target(
            f"load runs for {files} files",
            float(len(load_runs)),
            float(run_count(files)),
            "<=",
        ),
    ]
    return result


def render_backlog(result: BacklogResult) -> str:
    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    rows = [
        ["files dropped at once", f"{result.files:,}"],
        ["all files loaded", "yes" if result.completed else f"NO ({result.files_loaded} loaded)"],
        ["seconds, first sensor tick -> all loaded", seconds(result.seconds_from_first_tick)],
        ["seconds, first sensor tick -> all checks recorded", seconds(result.seconds_to_all_checks)],
        ["seconds, daemon start -> all loaded", seconds(result.seconds_from_daemon_start)],
        ["seconds, daemon start -> first sensor tick", seconds(result.daemon_start_to_first_tick_s)],
        ["load_batches_job runs", f"{result.load_runs} {result.load_run_statuses}"],
        ["other runs (refreshes, checks)", str(result.other_runs or "none")],
        ["sensor ticks that requested runs", str(result.sensor_ticks_with_runs)],
        ["rows loaded / rejected", f"{result.rows_loaded:,} / {result.rows_rejected:,}"],
        ["quarantined files", str(result.files_quarantined)],
    ]
    return "\n".join(
        [
            f"Backlog: {result.files} files, real dagster-daemon (log: {result.daemon_log})",
            format_table(["measure", "value"], rows),
        ]
    )
