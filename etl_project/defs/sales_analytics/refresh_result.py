"""One refresh of store_daily_sales and what it records: shared by the asset (its own runs, the daily verdict)
and by the load runs, which refresh right after their batches (issue 21.6: no refresh run of its own per batch).

A load run's step yields no output of store_daily_sales (a downstream step in the same run would be skipped, and
the load's per-partition outputs cannot carry it), so it records the refresh as a runtime materialisation with
the same metadata, data version and provenance: the check's automation condition and the UI see one kind of
refresh.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import dagster as dg
import psycopg2.extensions

from etl_project import dagster_private as private
from etl_project.analytics import refresh_store_daily_sales
from etl_project.analytics.extent import store_daily_sales_extent
from etl_project.defs.sales_analytics.resources import SalesDropRules
from etl_project.sales_drop.judged_window import judged_window
from etl_project.sales_drop.rule import judged_day

STORE_DAILY_SALES = dg.AssetKey("store_daily_sales")
#: What store_daily_sales is computed from (the asset's deps, and the provenance a load run's refresh records).
STORE_DAILY_SALES_DEPS = [dg.AssetKey("sales"), dg.AssetKey("products")]
#: Runs tagged so refresh store_daily_sales after their own work (load runs, the refresh job, the daily verdict):
#: pending_sales_refresh_sensor leaves what is pending to them while they are queued or running.
REFRESHES_TAG = {"etl/refreshes": "store_daily_sales"}


def refreshes_after_work(run_tags: Mapping[str, str]) -> bool:
    """Whether a run carries REFRESHES_TAG (a load run launched by batch_file_sensor does)."""
    return all(run_tags.get(key) == value for key, value in REFRESHES_TAG.items())


def refresh(
    conn: psycopg2.extensions.connection,
    rules: SalesDropRules,
    run_tags: Mapping[str, str],
    log: logging.Logger | dg.DagsterLogManager,
    full: bool = False,
) -> tuple[dict[str, str | int], dg.DataVersion]:
    """Refresh the table from the change log; (the materialisation's metadata, its data version).

    The data version fingerprints what sales_drop_check judges (the as-of day, its rows and those of the 7 days
    before it, the stores, the rule): it changes only when the verdict may change.
    """
    report = refresh_store_daily_sales(conn, full=full)
    window = judged_window(conn, rules, judged_day(run_tags, rules))
    table = store_daily_sales_extent(conn)
    days = f", {report.first_day} to {report.last_day}" if report.first_day else ""
    log.info(f"store_daily_sales: {report.kind} refresh of {report.store_days} store-days{days}")
    metadata: dict[str, str | int] = {
        "refresh_kind": report.kind,
        "store_days_refreshed": report.store_days,
        "changes_consumed": report.changes_consumed,
        "sales_drop_as_of_date": str(window.as_of),
        "sales_drop_window_store_days": window.rows,
    }
    if report.first_day is not None:  # the days this refresh recomputed, not the table's
        metadata |= {"refreshed_first_day": str(report.first_day), "refreshed_last_day": str(report.last_day)}
    # the whole table after the refresh
    metadata |= {"dagster/row_count": table.store_days, "table_store_days": table.store_days}
    if table.first_day is not None:
        metadata |= {"table_first_day": str(table.first_day), "table_last_day": str(table.last_day)}
    return metadata, dg.DataVersion(window.fingerprint)


def refresh_materialization(
    conn: psycopg2.extensions.connection,
    instance: dg.DagsterInstance,
    run: dg.DagsterRun,
    log: logging.Logger | dg.DagsterLogManager,
) -> dg.AssetMaterialization:
    """A load run's refresh, recorded as store_daily_sales' materialisation (with its data version and provenance).

    The rules come from the environment, as the code location's SalesDropRules resource does.
    """
    # EnvVar fields resolve when Dagster initialises a resource; built here, the rules need their values.
    rules = SalesDropRules.from_environment().process_config_and_initialize()
    # Looked up before the refresh: what it records as consumed was stored before the change log was read.
    provenance = _provenance(instance, run.run_id)
    metadata, version = refresh(conn, rules, run.tags, log)
    return dg.AssetMaterialization(
        STORE_DAILY_SALES,
        description="Refreshed by the load run, after its batches.",
        metadata={**metadata, "refreshed_by": "load run"},
        tags={
            **provenance,
            private.DATA_VERSION_TAG: version.value,
            private.DATA_VERSION_IS_USER_PROVIDED_TAG: "true",
        },
    )


def _provenance(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    """The provenance tags Dagster records for its own materialisation of store_daily_sales: the code version
    (the run id, as for an asset without one) and each dependency's latest data version and event.

    Without them Dagster judges the refresh by timestamps, and calls it "Unsynced" for every dependency
    partition that never materialised (a quarantined batch) however often it refreshes.
    """
    tags = {private.CODE_VERSION_TAG: run_id}
    latest = {
        record.asset_entry.asset_key: record.asset_entry.last_materialization_record
        for record in instance.get_asset_records(STORE_DAILY_SALES_DEPS)
    }
    for key in STORE_DAILY_SALES_DEPS:
        event = latest.get(key)
        version = private.extract_data_version_from_entry(event.event_log_entry) if event else None
        tags[private.get_input_data_version_tag(key)] = (version or private.DEFAULT_DATA_VERSION).value
        tags[private.get_input_event_pointer_tag(key)] = (
            str(event.storage_id) if event else private.NULL_EVENT_POINTER
        )
    return tags
