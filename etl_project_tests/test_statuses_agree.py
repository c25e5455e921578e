"""While a quarantined file waits, its one failed check is batch_file_readable (no check of it shows as skipped),
and a newer batch's passed evaluation, shown next to that Failed as the check's latest execution, names it; dealt
with, it leaves no failed or skipped check behind: after a quarantined file is dropped, or fixed
and retried, every check of the ingestion assets shows only passed partitions, as the asset graph rolls them up
(any partition failed: Failed; any skipped: the yellow count)."""

import asyncio

import dagster as dg
import pytest
from dagster._core.loader import LoadingContextForTest
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from etl_project import definitions
from etl_project.cli import main
from etl_project.defs.alerting.freshness import EVENT_ASSET_KEYS, FRESHNESS_CHECK
from etl_project.defs.ingestion.assets import batch_event_tables
from etl_project.defs.ingestion.partitions import batch_partitions
from etl_project_tests.helpers import materialize_batches, write_generated_batch

WRONG_HEADER = b'"id","name"\n"1","x"\n'
ALL_CHECKS = {f"{key.asset_key.to_user_string()}:{key.name}" for key in batch_event_tables.check_keys}


def _statuses(instance: dg.DagsterInstance) -> dict[str, set[str]]:
    """Every status any existing partition of any ingestion check has, with the checks showing it."""
    keys = list(batch_event_tables.check_keys)
    with dg.partition_loading_context(dynamic_partitions_store=instance):
        states = instance.event_log_storage.get_asset_check_state([(key, batch_partitions) for key in keys])
    found: dict[str, set[str]] = {}
    for key, state in states.items():
        for status, subset in state.subsets.items():
            if not subset.is_empty:
                found.setdefault(status.value, set()).add(f"{key.asset_key.to_user_string()}:{key.name}")
    return found


@pytest.mark.parametrize("action", ["drop", "retry"])
def test_a_quarantined_file_dealt_with_leaves_every_check_passed(
    home_instance, resources, shared_dir, action
):
    write_generated_batch(shared_dir, "a_good")
    (shared_dir / "b_bad.csv").write_bytes(WRONG_HEADER)
    materialize_batches(home_instance, resources, ["a_good", "b_bad"])  # one run, as the sensor's
    # before: the file's one failed check says why; no check of its partition shows as skipped
    assert _statuses(home_instance) == {"SUCCEEDED": ALL_CHECKS, "FAILED": {"raw_events:batch_file_readable"}}

    if action == "retry":
        write_generated_batch(shared_dir, "b_bad", seed=2)  # fixed
    assert main(["quarantine", action, "b_bad"]) == 0

    assert set(_statuses(home_instance)) == {"SUCCEEDED"}
    if action == "retry":  # the retry's run materialised the assets: it evaluated their freshness too
        assert _freshness_not_evaluated(home_instance) == []


def _latest_readable_description(instance: dg.DagsterInstance) -> str:
    key = dg.AssetCheckKey(dg.AssetKey("raw_events"), "batch_file_readable")
    [record] = instance.event_log_storage.get_asset_check_execution_history(key, limit=1)
    evaluation = (
        record.event.dagster_event.event_specific_data
    )  # the check's latest execution, as the UI shows it
    return evaluation.description


def test_the_latest_passed_readability_names_the_batches_still_quarantined(
    home_instance, resources, shared_dir
):
    (shared_dir / "a_bad.csv").write_bytes(WRONG_HEADER)
    materialize_batches(home_instance, resources, ["a_bad"])
    write_generated_batch(shared_dir, "b_good")  # the next minute's batch
    materialize_batches(home_instance, resources, ["b_good"])

    assert _statuses(home_instance)["FAILED"] == {"raw_events:batch_file_readable"}
    assert _latest_readable_description(home_instance) == (
        "The file was read. Still quarantined: a_bad; the check stays Failed until each is retried or dropped "
        "(`etl quarantine list`)."
    )

    assert main(["quarantine", "drop", "a_bad"]) == 0
    write_generated_batch(shared_dir, "c_good")
    materialize_batches(home_instance, resources, ["c_good"])

    assert _latest_readable_description(home_instance) == "The file was read."


def _freshness_not_evaluated(instance: dg.DagsterInstance) -> list[str]:
    """The event assets whose freshness check the UI lists as not evaluated (or not passed)."""
    found = []
    for key in EVENT_ASSET_KEYS:
        check_key = dg.AssetCheckKey(key, FRESHNESS_CHECK)
        latest = instance.event_log_storage.get_asset_check_execution_history(check_key, limit=1)
        if not (
            latest
            and latest[0].status == AssetCheckExecutionRecordStatus.SUCCEEDED
            and asyncio.run(latest[0].targets_latest_materialization(LoadingContextForTest(instance)))
        ):
            found.append(key.to_user_string())
    return found


def test_after_a_load_no_freshness_check_is_listed_as_not_evaluated(home_instance, resources, shared_dir):
    """The freshness checks' own sensor evaluates them only when due; the UI lists a check whose latest evaluation
    is older than the asset's latest materialisation as "Not Evaluated". The load run evaluates them itself."""
    repository = definitions.load_definitions().get_repository_def()
    assert {dg.AssetCheckKey(key, FRESHNESS_CHECK) for key in EVENT_ASSET_KEYS} <= set(
        repository.asset_graph.asset_check_keys
    )
    for batch_id in ["a_first", "b_next"]:
        write_generated_batch(shared_dir, batch_id)
        materialize_batches(home_instance, resources, [batch_id])

        assert _freshness_not_evaluated(home_instance) == []
    latest = home_instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(EVENT_ASSET_KEYS[0], FRESHNESS_CHECK), limit=1
    )[0]
    metadata = latest.event.dagster_event.event_specific_data.metadata
    # the freshness sensor's next evaluation is due when the allowed silence after this update has passed
    assert metadata["dagster/fresh_until_timestamp"].value > metadata["dagster/last_updated_timestamp"].value
