"""Faults injected into real loads: killed processes, cut connections, concurrent runs. Nothing lost or doubled."""

import os
import signal
import subprocess
import sys
import threading
import time

import dagster as dg
import psycopg2
import psycopg2.extensions
import pytest

from etl_project.cli import main as etl_cli
from etl_project.database.embedded import embedded_server_uri, ensure_database, stop_embedded_server
from etl_project.loading import load_batch
from etl_project.resources import EtlDatabase, SharedDirectory
from etl_project_tests.helpers import count_rows, materialize_batches, write_generated_batch


def _wait_until_a_load_is_inserting(conn: psycopg2.extensions.connection, timeout: float = 60) -> bool:
    """Poll until a platform connection is running one of the load's INSERTs (the moment to inject a fault)."""
    deadline = time.time() + timeout
    with conn.cursor() as cur:
        while time.time() < deadline:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'etl_project' "
                "AND state = 'active' AND (query ILIKE '%%INSERT INTO etl.%%' OR query ILIKE 'COPY etl.%%')"
            )
            if cur.fetchone()[0]:
                return True
            time.sleep(0.05)
    return False


def test_connection_cut_midway_is_retried_with_backoff_and_loads_once(instance, resources, shared_dir, db):
    write_generated_batch(shared_dir, "cut")
    with db.cursor() as cur:  # the first insert into sales kills its own connection, as an admin would
        cur.execute(
            "CREATE SEQUENCE etl.fault_once;"
            "CREATE FUNCTION etl.cut_connection() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "  IF nextval('etl.fault_once') = 1 THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF; "
            "  RETURN NEW; END $$;"
            "CREATE TRIGGER cut BEFORE INSERT ON etl.sales FOR EACH ROW EXECUTE FUNCTION etl.cut_connection()"
        )

    result = materialize_batches(instance, resources, ["cut"])

    assert result.success
    retried = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert len(retried) == 1
    counts = count_rows(db, "cut")
    assert counts["sales"] > 0 and counts["rejected_events"] == 0
    with db.cursor() as cur:
        cur.execute("SELECT count(*), count(DISTINCT raw_id) FROM etl.sales WHERE batch_id = 'cut'")
        total, distinct = cur.fetchone()
    assert total == distinct == counts["sales"]


def test_two_loads_of_the_same_batch_at_once_never_duplicate(database_url, shared_dir, db):
    path = write_generated_batch(shared_dir, "twice")
    errors: list[BaseException] = []

    def load() -> None:
        conn = psycopg2.connect(database_url)
        try:
            load_batch(conn, "twice", path)
        except BaseException as err:  # surfaced below
            errors.append(err)
        finally:
            conn.close()

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    counts = count_rows(db, "twice")
    assert counts["raw_events"] == sum(counts[t] for t in ("stores", "products", "orders", "sales"))
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM etl.raw_events WHERE batch_id = 'twice'")
        assert cur.fetchone()[0] == counts["raw_events"]


@pytest.mark.slow
def test_killed_load_leaves_nothing_and_the_next_run_loads_it_once(database_url, shared_dir, db):
    etl_cli(
        [
            "generate",
            "--out",
            str(shared_dir),
            *"--batch-id big --events 200000 --seed 3 --no-database".split(),
        ]
    )
    path = shared_dir / "big.csv"
    loader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, psycopg2; from pathlib import Path; "
            "from etl_project.loading import load_batch; "
            "load_batch(psycopg2.connect(sys.argv[1], application_name='etl_project'), 'big', Path(sys.argv[2]))",
            database_url,
            str(path),
        ]
    )
    if not _wait_until_a_load_is_inserting(db):  # then kill it without warning
        loader.kill()
        pytest.fail("the load never reached its INSERT statements")
    os.kill(loader.pid, signal.SIGKILL)
    loader.wait()
    time.sleep(0.5)  # the server notices the dead client and rolls back

    assert set(count_rows(db, "big").values()) == {0}
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM utilities.processed_files")
        assert cur.fetchone()[0] == 0
    abandoned = _staging_tables(db)
    assert abandoned, "the killed load's staging tables (scratch, outside its transaction) are left over"

    conn = psycopg2.connect(database_url)
    report = load_batch(conn, "big", path)
    conn.close()
    assert report.rows_read == 200000 and report.rows_rejected == 0
    assert count_rows(db, "big")["raw_events"] == 200000
    assert not abandoned & _staging_tables(db), (
        "the next load drops the staging tables of a load that is gone"
    )


def _staging_tables(conn: psycopg2.extensions.connection) -> set[str]:
    with conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'etl_staging'")
        names = {name for (name,) in cur.fetchall()}
    conn.commit()
    return names


@pytest.mark.slow
def test_database_restarting_during_a_load_is_retried_and_loads_once(instance, shared_dir, tmp_path):
    """A server of its own, stopped and started again while a run is loading: the retry loads the batch once."""
    data_dir = tmp_path / "pg"
    etl_database = EtlDatabase(url=ensure_database(embedded_server_uri(data_dir), "etl"))
    resources = {"etl_database": etl_database, "shared_directory": SharedDirectory(path=str(shared_dir))}
    etl_cli(
        [
            "generate",
            "--out",
            str(shared_dir),
            *"--batch-id restart --events 200000 --seed 5 --no-database".split(),
        ]
    )
    restarted = threading.Event()

    def restart_when_loading() -> None:
        watcher = psycopg2.connect(etl_database.url)
        watcher.autocommit = True
        try:
            _wait_until_a_load_is_inserting(watcher)
        finally:
            watcher.close()
        stop_embedded_server(data_dir)
        embedded_server_uri(data_dir)
        restarted.set()

    try:
        threading.Thread(target=restart_when_loading, daemon=True).start()
        result = materialize_batches(instance, resources, ["restart"])
        assert restarted.wait(30)
        assert result.success
        assert [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
        conn = psycopg2.connect(etl_database.url)
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(*), count(DISTINCT file_row) FROM etl.raw_events WHERE batch_id = 'restart'"
            )
            assert cur.fetchone() == (200000, 200000)
        conn.close()
    finally:
        stop_embedded_server(data_dir)


def test_a_retried_run_does_not_reload_the_batches_it_already_loaded(instance, resources, shared_dir, db):
    write_generated_batch(shared_dir, "a_first", seed=1)
    write_generated_batch(shared_dir, "b_cut", seed=2)
    with db.cursor() as cur:  # the connection dies once, while loading the run's second batch
        cur.execute(
            "CREATE SEQUENCE etl.fault_once;"
            "CREATE FUNCTION etl.cut_connection() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "  IF NEW.batch_id = 'b_cut' AND nextval('etl.fault_once') = 1 THEN "
            "    PERFORM pg_terminate_backend(pg_backend_pid()); END IF; "
            "  RETURN NEW; END $$;"
            "CREATE TRIGGER cut BEFORE INSERT ON etl.sales FOR EACH ROW EXECUTE FUNCTION etl.cut_connection()"
        )

    result = materialize_batches(instance, resources, ["a_first", "b_cut"])

    assert result.success
    raw_materializations = [
        e.partition
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
        and e.asset_key == dg.AssetKey("raw_events")
    ]
    assert sorted(raw_materializations) == ["a_first", "b_cut"]  # a_first was loaded once, not again
    assert count_rows(db, "b_cut")["sales"] > 0


def test_db_stop_after_the_server_was_killed_says_it_was_not_running_and_it_starts_again(tmp_path):
    """A killed server (kill -9, a crash) leaves its postmaster.pid behind: stopping is not an error (the
    stale file goes), and the next start works."""
    data_dir = tmp_path / "pg"
    embedded_server_uri(data_dir)
    pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    try:
        os.kill(pid, signal.SIGKILL)
        time.sleep(1)
        assert (data_dir / "postmaster.pid").exists()

        assert stop_embedded_server(data_dir) is False
        assert not (data_dir / "postmaster.pid").exists()
        conn = psycopg2.connect(embedded_server_uri(data_dir))
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
        conn.close()
    finally:
        stop_embedded_server(data_dir)
