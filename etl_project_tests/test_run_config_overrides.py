"""A run's config cannot move where data and secrets are: the shared directory and the ETL database stay the
environment's, whatever the launchpad sends (#25.6)."""

import pytest

from etl_project import definitions
from etl_project.defs.ingestion.partitions import batch_partitions
from etl_project_tests.helpers import count_rows, write_generated_batch

pytestmark = pytest.mark.every_postgres_major


@pytest.fixture
def code_location(monkeypatch, database_url, shared_dir):
    """The code location as a deployment builds it, from its environment."""
    monkeypatch.setenv("ETL_DATABASE_URL", database_url)
    monkeypatch.setenv("ETL_SHARED_DATA_DIR", str(shared_dir))
    monkeypatch.setenv("ETL_FILE_SETTLE_SECONDS", "0")
    return definitions.load_definitions()


def _failure(result, node: str) -> str:
    error = result.failure_data_for_node(node).error
    return error.message + "".join(cause.message for cause in [error.cause] if cause)


def test_a_load_run_cannot_read_another_folder(code_location, instance, tmp_path, db):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write_generated_batch(elsewhere, "b1")  # only outside the shared directory
    instance.add_dynamic_partitions(batch_partitions.name, ["b1"])
    job = code_location.resolve_job_def("load_batches_job")

    result = job.execute_in_process(
        run_config={"resources": {"shared_directory": {"config": {"path": str(elsewhere)}}}},
        instance=instance,
        partition_key="b1",
        raise_on_error=False,
    )

    assert not result.success
    assert "shared_directory.path comes from ETL_SHARED_DATA_DIR" in str(result.all_events)
    assert set(count_rows(db, "b1").values()) == {0}
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM utilities.processed_files")
        assert cur.fetchone()[0] == 0


def test_a_generator_run_cannot_write_elsewhere_nor_use_another_database(code_location, instance, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    job = code_location.resolve_job_def("generate_batch_job")
    for resources_config, message in [
        ({"shared_directory": {"config": {"path": str(elsewhere)}}}, "shared_directory.path"),
        ({"etl_database": {"config": {"url": "postgresql://attacker.example/etl"}}}, "etl_database.url"),
    ]:
        result = job.execute_in_process(
            run_config={"resources": resources_config}, instance=instance, raise_on_error=False
        )
        assert not result.success
        assert f"{message} comes from" in str(result.all_events)
    assert list(elsewhere.iterdir()) == []


def test_a_run_without_overrides_still_loads(code_location, instance, shared_dir, db):
    write_generated_batch(shared_dir, "b2")
    instance.add_dynamic_partitions(batch_partitions.name, ["b2"])
    result = code_location.resolve_job_def("load_batches_job").execute_in_process(
        instance=instance, partition_key="b2"
    )
    assert result.success and count_rows(db, "b2")["raw_events"] > 0
