"""`etl quarantine list | retry | drop` (and quarantined_batch_job, which they run) against a real PostgreSQL and
a persistent Dagster instance, the one the command opens from DAGSTER_HOME."""

import os
import time

import dagster as dg
import pytest

from etl_project.cli import main
from etl_project.defs.ingestion.partitions import batch_partitions
from etl_project.defs.ingestion.sensors import batch_file_sensor
from etl_project_tests.helpers import (
    check_evaluations,
    count_rows,
    materialize_batches,
    quarantine_reason,
    write_generated_batch,
)

pytestmark = pytest.mark.every_postgres_major

WRONG_HEADER = b'"id","name"\n"1","x"\n'


def _graph_status(
    instance: dg.DagsterInstance, check_name: str = "batch_file_readable"
) -> dict[str, set[str]]:
    """Partitions per status of a raw_events check, as the asset graph computes them (existing partitions only)."""
    key = dg.AssetCheckKey(dg.AssetKey("raw_events"), check_name)
    with dg.partition_loading_context(dynamic_partitions_store=instance):
        state = instance.event_log_storage.get_asset_check_state([(key, batch_partitions)])[key]
        return {
            status.value: set(subset.subset_value.get_partition_keys())
            for status, subset in state.subsets.items()
            if not subset.is_empty
        }


def _status(db, batch_id: str) -> str:
    with db.cursor() as cur:
        cur.execute("SELECT status FROM utilities.processed_files WHERE batch_id = %s", (batch_id,))
        return cur.fetchone()[0]


def test_list_then_retry_once_fixed_turns_the_partition_green(
    home_instance, resources, shared_dir, db, capsys
):
    (shared_dir / "late_fix.csv").write_bytes(WRONG_HEADER)
    materialize_batches(home_instance, resources, ["late_fix"])
    assert _graph_status(home_instance) == {"FAILED": {"late_fix"}}

    assert main(["quarantine", "list"]) == 0
    listed = capsys.readouterr().out
    assert "late_fix" in listed and "late_fix.csv: wrong header" in listed

    write_generated_batch(shared_dir, "late_fix")  # fixed
    assert main(["quarantine", "retry", "late_fix"]) == 0

    assert "Batch 'late_fix' loaded" in capsys.readouterr().out
    assert _graph_status(home_instance) == {"SUCCEEDED": {"late_fix"}}
    assert _graph_status(home_instance, "rows_accounted_for") == {"SUCCEEDED": {"late_fix"}}
    assert "late_fix" in home_instance.get_materialized_partitions(dg.AssetKey("sales"))
    assert count_rows(db, "late_fix")["sales"] > 0 and _status(db, "late_fix") == "loaded"
    assert main(["quarantine", "list"]) == 0
    assert capsys.readouterr().out.strip() == "No quarantined files."


def test_retry_of_a_file_still_unreadable_fails_with_the_reason(home_instance, resources, shared_dir, capsys):
    (shared_dir / "still_bad.csv").write_bytes(b"")
    materialize_batches(home_instance, resources, ["still_bad"])

    assert main(["quarantine", "retry", "still_bad"]) == 1

    assert "still unreadable: still_bad.csv: the file is empty" in capsys.readouterr().err
    assert "the file is empty" in quarantine_reason(home_instance, "still_bad")
    assert main(["quarantine", "retry", "never_seen"]) == 1
    assert "'never_seen' is not quarantined (quarantined now: ['still_bad'])" in capsys.readouterr().err


def test_drop_deletes_the_partition_and_the_sensor_reloads_the_file_only_once_it_changes(
    home_instance, resources, shared_dir, db
):
    path = shared_dir / "hopeless.csv"
    path.write_bytes(WRONG_HEADER)
    old = time.time() - 60
    os.utime(path, (old, old))
    materialize_batches(home_instance, resources, ["hopeless"])

    assert main(["quarantine", "drop", "hopeless"]) == 0

    assert "hopeless" not in home_instance.get_dynamic_partitions(batch_partitions.name)
    assert _graph_status(home_instance) == {}  # no failed partition left in the graph
    assert _status(db, "hopeless") == "dropped"
    tick = dg.build_sensor_context(instance=home_instance, resources=resources)
    assert isinstance(batch_file_sensor(tick), dg.SkipReason)  # the same version: never loaded again

    write_generated_batch(shared_dir, "hopeless")  # a new version of the file
    os.utime(path, (old + 1, old + 1))
    result = batch_file_sensor(dg.build_sensor_context(instance=home_instance, resources=resources))
    assert [r.partition_key for r in result.run_requests] == ["hopeless"]
    assert [list(r.partition_keys) for r in result.dynamic_partitions_requests] == [["hopeless"]]


def test_drop_is_refused_while_an_earlier_version_is_loaded(home_instance, resources, shared_dir, db, capsys):
    write_generated_batch(shared_dir, "was_good")
    materialize_batches(home_instance, resources, ["was_good"])
    (shared_dir / "was_good.csv").write_bytes(WRONG_HEADER)  # replaced by a broken version
    materialize_batches(home_instance, resources, ["was_good"])
    assert _status(db, "was_good") == "quarantined"

    assert main(["quarantine", "drop", "was_good"]) == 1

    assert "still holds the rows of an earlier, readable version" in capsys.readouterr().err
    assert _status(db, "was_good") == "quarantined" and count_rows(db, "was_good")["sales"] > 0
    assert "was_good" in home_instance.get_dynamic_partitions(batch_partitions.name)
    assert check_evaluations(home_instance, "raw_events", "batch_file_readable")["was_good"].passed is False
