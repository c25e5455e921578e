"""A batch file is opened once, without following symlinks or waiting on a FIFO, and read through that one
descriptor; the generator never writes through a planted symlink nor over an existing file (#25.4, #25.5)."""

import json
import os
import threading
from datetime import datetime

import psycopg2
import pytest

from etl_project.generator.events import BatchFileExistsError, Event, write_batch_file
from etl_project.loading import BatchFileError, load_batch, staging
from etl_project_tests.helpers import count_rows, materialize_batches, quarantine_reason, write_raw_batch

pytestmark = pytest.mark.every_postgres_major

CREATED = "2025-04-20 09:20:00"


def _store(batch: str, name: str) -> tuple[str, str, str, str]:
    store = {"id": 1, "created_at": CREATED, "name": name, "tax_id": 1, "status": "active"}
    return (batch, "store_event", json.dumps(store), CREATED)


def _load_in_thread(database_url: str, batch_id: str, path) -> object:
    """load_batch's outcome (report or exception), or "hung" when it did not return within 30 s."""
    outcome: list[object] = []

    def load() -> None:
        conn = psycopg2.connect(database_url)
        try:
            outcome.append(load_batch(conn, batch_id, path))
        except Exception as err:  # noqa: BLE001 - the outcome is what the test looks at
            outcome.append(err)
        finally:
            conn.close()

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(30)
    if thread.is_alive():
        with open(path, "wb"):  # a writer at last: the old code's open() returns, the thread ends
            pass
        return "hung"
    return outcome[0]


def test_a_fifo_in_place_of_a_batch_file_is_refused_at_once(database_url, shared_dir, db):
    path = shared_dir / "pipe.csv"
    os.mkfifo(path)
    outcome = _load_in_thread(database_url, "pipe", path)
    assert isinstance(outcome, BatchFileError), outcome
    assert "not a regular file" in str(outcome)
    assert set(count_rows(db, "pipe").values()) == {0}


def test_a_fifo_swapped_in_is_quarantined_and_the_run_goes_on(instance, resources, shared_dir, db):
    write_raw_batch(shared_dir, "good", [_store("good", "Good")])
    os.mkfifo(shared_dir / "pipe.csv")
    result: list[object] = []
    thread = threading.Thread(
        target=lambda: result.append(materialize_batches(instance, resources, ["good", "pipe"])), daemon=True
    )
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "the run hung on the FIFO"
    assert "not a regular file" in quarantine_reason(instance, "pipe")
    assert count_rows(db, "good")["stores"] == 1


def test_a_symlink_swapped_in_after_opening_is_never_read(
    database_url, shared_dir, tmp_path, monkeypatch, db
):
    path = write_raw_batch(shared_dir, "swap", [_store("swap", "Original")])
    outside = write_raw_batch(tmp_path, "swap", [_store("swap", "Planted")])
    original_header = staging._plain_header

    def swap_then_read_header(file):
        # the name now points outside; every read must still come from the descriptor opened before
        os.replace(outside, path.with_name("planted.tmp"))
        path.unlink()
        path.with_name("planted.tmp").rename(tmp_path / "planted.csv")
        path.symlink_to(tmp_path / "planted.csv")
        return original_header(file)

    monkeypatch.setattr(staging, "_plain_header", swap_then_read_header)
    conn = psycopg2.connect(database_url)
    report = load_batch(conn, "swap", path)
    conn.close()
    assert report.rows_loaded == 1
    with db.cursor() as cur:
        cur.execute("SELECT name FROM etl.stores WHERE batch_id = 'swap'")
        assert cur.fetchall() == [("Original",)]


def test_a_symlink_at_the_batch_name_is_refused_when_opened(database_url, shared_dir, tmp_path, db):
    outside = write_raw_batch(tmp_path, "link", [_store("link", "Planted")])
    (shared_dir / "link.csv").symlink_to(outside)
    outcome = _load_in_thread(database_url, "link", shared_dir / "link.csv")
    assert isinstance(outcome, BatchFileError) and "symbolic link" in str(outcome)
    assert set(count_rows(db, "link").values()) == {0}


def test_the_generator_never_writes_through_a_symlink_at_its_temporary_name(shared_dir, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (shared_dir / ".b1.csv.partial").symlink_to(victim)
    path = write_batch_file(shared_dir, "b1", datetime(2025, 4, 20, 9), [Event("order_event", {"id": 1})])
    assert victim.read_text() == "precious"
    assert path.read_text().startswith('"batch_id"') and not path.is_symlink()
    assert not os.path.lexists(shared_dir / ".b1.csv.partial")


def test_the_generator_never_overwrites_an_existing_batch_file(shared_dir):
    existing = shared_dir / "real.csv"
    existing.write_text("real rows")
    with pytest.raises(BatchFileExistsError, match="real.csv exists already"):
        write_batch_file(shared_dir, "real", datetime(2025, 4, 20, 9), [Event("order_event", {"id": 1})])
    assert existing.read_text() == "real rows"
    assert sorted(p.name for p in shared_dir.iterdir()) == ["real.csv"]
