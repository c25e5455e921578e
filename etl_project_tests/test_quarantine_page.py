"""A quarantined batch's partition of raw_events says why and what to do, as the UI's partition page shows it:
the metadata of the partition's latest materialisation and of the observations made after it."""

import dagster as dg

from etl_project_tests.helpers import check_evaluations, materialize_batches, write_generated_batch

RAW_EVENTS = dg.AssetKey("raw_events")
WRONG_HEADER = b'"id","name"\n"1","x"\n'


def _partition_page(instance: dg.DagsterInstance, batch_id: str) -> dict[str, object]:
    """What the partition page lists: the latest materialisation's metadata, then later observations'."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=RAW_EVENTS, asset_partitions=[batch_id]), limit=1
    ).records
    assert records, "no materialisation: the page would say 'No metadata entries'"
    latest = records[0]
    shown = {k: v.value for k, v in latest.asset_materialization.metadata.items()}
    observations = instance.fetch_observations(
        dg.AssetRecordsFilter(
            asset_key=RAW_EVENTS, asset_partitions=[batch_id], after_storage_id=latest.storage_id
        ),
        limit=10,
    ).records
    for observation in observations:
        shown |= {k: v.value for k, v in observation.asset_observation.metadata.items()}
    return shown


def test_a_batch_never_loaded_shows_the_reason_and_what_to_do(instance, resources, shared_dir):
    (shared_dir / "broken.csv").write_bytes(WRONG_HEADER)
    write_generated_batch(shared_dir, "fine")

    assert materialize_batches(instance, resources, ["broken", "fine"]).success

    page = _partition_page(instance, "broken")
    assert page["status"] == "quarantined: not loaded" and page["dagster/row_count"] == 0
    assert "broken.csv: wrong header" in page["reason"]
    assert (
        "etl quarantine retry broken" in page["what_to_do"]
        and "etl quarantine drop broken" in page["what_to_do"]
    )
    assert not instance.get_materialized_partitions(dg.AssetKey("sales")) - {"fine"}  # nothing downstream
    readable = check_evaluations(instance, "raw_events", "batch_file_readable")["broken"]
    assert readable.passed is False and readable.target_materialization_data is not None
    assert "status" not in _partition_page(instance, "fine")


def test_a_new_version_refused_keeps_the_loaded_one_and_says_so(instance, resources, shared_dir):
    write_generated_batch(shared_dir, "was_good")
    materialize_batches(instance, resources, ["was_good"])
    (shared_dir / "was_good.csv").write_bytes(WRONG_HEADER)  # replaced by a broken version

    materialize_batches(instance, resources, ["was_good"])

    page = _partition_page(instance, "was_good")
    assert page["status"] == "this version quarantined: the earlier, loaded version is kept"
    assert page["dagster/row_count"] > 0  # the loaded version's materialisation, still true of the table
    assert "wrong header" in page["reason"]
