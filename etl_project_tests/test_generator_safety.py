"""The generator never replaces a real batch: no existing file, no batch the ledger knows, no invalid id; and a
deployment with ETL_GENERATOR_ENABLED=false has no generator at all (#25.5)."""

import pytest

from etl_project import definitions
from etl_project.cli import main
from etl_project.defs.generator.jobs import generate_batch_job
from etl_project_tests.helpers import count_rows, materialize_batches, write_generated_batch

pytestmark = pytest.mark.every_postgres_major


def _generate(instance, resources, batch_id: str):
    return generate_batch_job.execute_in_process(
        run_config={"ops": {"write_generated_batch": {"config": {"batch_id": batch_id, "seed": 1}}}},
        instance=instance,
        resources=resources,
        raise_on_error=False,
    )


def _error(result) -> str:
    error = result.failure_data_for_node("write_generated_batch").error
    return error.message + "".join(cause.message for cause in [error.cause] if cause)


def test_a_generator_run_never_overwrites_a_batch_file(instance, resources, shared_dir):
    real = write_generated_batch(shared_dir, "real")
    before = real.read_bytes()
    result = _generate(instance, resources, "real")
    assert not result.success and "real.csv exists already" in _error(result)
    assert real.read_bytes() == before


def test_a_generator_run_refuses_a_batch_already_in_the_ledger(instance, resources, shared_dir, db):
    write_generated_batch(shared_dir, "loaded")
    materialize_batches(instance, resources, ["loaded"])
    rows = count_rows(db, "loaded")
    (shared_dir / "loaded.csv").unlink()  # archived after loading: the ledger still knows the batch

    result = _generate(instance, resources, "loaded")

    assert not result.success and "already a batch in utilities.processed_files (loaded)" in _error(result)
    assert not (shared_dir / "loaded.csv").exists() and count_rows(db, "loaded") == rows


def test_a_generator_run_refuses_an_id_that_leaves_the_directory(instance, resources, shared_dir, tmp_path):
    result = _generate(instance, resources, "../outside")
    assert not result.success and "path separator" in _error(result)
    assert not (tmp_path / "outside.csv").exists()


def test_etl_generate_refuses_an_existing_batch_id(shared_dir, database_url, monkeypatch, capsys):
    real = write_generated_batch(shared_dir, "real")
    before = real.read_bytes()
    monkeypatch.setenv("ETL_DATABASE_URL", database_url)
    assert main(["generate", "--out", str(shared_dir), "--batch-id", "real"]) == 1
    assert "real.csv exists already" in capsys.readouterr().err
    assert real.read_bytes() == before


def test_with_the_generator_disabled_its_job_and_schedule_are_not_defined(monkeypatch):
    monkeypatch.setenv("ETL_GENERATOR_ENABLED", "false")
    repo = definitions.load_definitions().get_repository_def()
    assert "generate_batch_job" not in {job.name for job in repo.get_all_jobs()}
    assert "generate_batch_every_minute" not in {s.name for s in repo.schedule_defs}
    assert "load_batches_job" in {job.name for job in repo.get_all_jobs()}
