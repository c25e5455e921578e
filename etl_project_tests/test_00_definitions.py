"""The code location loads and validates (what `dg check defs` checks) and holds exactly the expected names.

Named to be collected first: a definitions module that fails to import or validate is reported within
seconds, before the database tests start. No database is needed: resources connect only when used.
"""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from dagster.components.definitions import LazyDefinitions

from etl_project import definitions
from etl_project.paths import PROJECT_ROOT

ASSETS = {"raw_events", "stores", "products", "orders", "sales", "store_daily_sales"}
ASSET_CHECKS = {
    "store_daily_sales:sales_drop_check",
    "raw_events:batch_file_readable",
    "sales:references_valid",
    *(
        f"{table}:{check}"
        for table in ("raw_events", "stores", "products", "orders", "sales")
        for check in ("rows_accounted_for", "rejected_share", "freshness_check")
    ),
}
JOBS = {
    "load_batches_job",
    "generate_batch_job",
    "replay_late_events_job",
    "quarantined_batch_job",
    "daily_sales_verdict_job",
    "refresh_store_daily_sales_job",
    "dagster_housekeeping_job",
}
SCHEDULES = {
    "generate_batch_every_minute",
    "replay_late_events_every_10_minutes",
    "daily_sales_verdict_schedule",
    "dagster_housekeeping_schedule",
}
SENSORS = {
    "batch_file_sensor",
    "stranded_batch_sensor",
    "analytics_automation_sensor",
    "pending_sales_refresh_sensor",
    "sales_drop_slack_sensor",
    "batch_partition_retention_sensor",
    "check_failure_slack_sensor",
    "ingestion_freshness_sensor",
    "ingestion_silence_slack_sensor",
    "quarantined_file_slack_sensor",
    "run_failure_slack_sensor",
    "alert_delivery_sensor",
}
RESOURCES = {
    "etl_database",
    "shared_directory",
    "sales_drop_rules",
    "alert_channel",
    "partition_retention",
    "run_retention",
    "data_quality_limits",
}

#: Where each definition is defined: etl_project/defs/<feature>/<module>.py, one folder per feature.
DEFINED_IN = {
    "ingestion.assets": ["batch_event_tables"],
    "ingestion.jobs": ["load_batches_job"],
    "ingestion.sensors": ["batch_file_sensor"],
    "ingestion.stranded_batches": ["stranded_batch_sensor"],
    "ingestion.late_data": ["replay_late_events_job", "replay_late_events_schedule"],
    "ingestion.quarantine": ["quarantined_batch_job"],
    "sales_analytics.assets": ["store_daily_sales"],
    "sales_analytics.checks": ["sales_drop_check"],
    "sales_analytics.sensors": ["analytics_automation_sensor", "sales_drop_slack_sensor"],
    "sales_analytics.schedules": ["daily_sales_verdict_job"],
    "sales_analytics.pending_refresh": ["refresh_store_daily_sales_job", "pending_sales_refresh_sensor"],
    "alerting.check_failure_sensor": ["check_failure_slack_sensor"],
    "alerting.quarantine_sensor": ["quarantined_file_slack_sensor"],
    "alerting.run_failure_sensor": ["run_failure_slack_sensor"],
    "alerting.silence_sensor": ["ingestion_silence_slack_sensor"],
    "alerting.delivery_sensor": ["alert_delivery_sensor"],
    "generator.jobs": ["generate_batch_job"],
    "generator.schedules": ["generate_batch_schedule"],
    "operations.sensors": ["batch_partition_retention_sensor"],
    "operations.housekeeping": ["dagster_housekeeping_job", "dagster_housekeeping_schedule"],
}
RESOURCES_DEFINED_IN = {
    "resources": {"etl_database", "shared_directory"},
    "sales_analytics.resources": {"sales_drop_rules"},
    "alerting.resources": {"alert_channel"},
    "operations.resources": {"partition_retention"},
    "operations.run_retention": {"run_retention"},
    "ingestion.resources": {"data_quality_limits"},
}


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    return definitions.load_definitions()


def test_the_code_location_loads_and_validates(defs):
    dg.Definitions.validate_loadable(defs)
    # `defs`, what the workspace, the deployment and `dg` load, builds them too.
    assert isinstance(definitions.defs(), dg.Definitions)


def test_the_code_location_holds_the_expected_definitions(defs):
    repo = defs.get_repository_def()
    assert {key.to_user_string() for key in repo.asset_graph.get_all_asset_keys()} == ASSETS
    assert {key.to_user_string() for key in repo.asset_graph.asset_check_keys} == ASSET_CHECKS
    assert {job.name for job in repo.get_all_jobs() if not job.name.startswith("__")} == JOBS
    assert {schedule.name for schedule in repo.schedule_defs} == SCHEDULES
    assert {sensor.name for sensor in repo.sensor_defs} == SENSORS
    assert set(defs.resources) == RESOURCES
    # Steps run in the run's own process (a step subprocess costs more than these steps' work).
    assert defs.executor is dg.in_process_executor
    assert all(job.executor_def is dg.in_process_executor for job in repo.get_all_jobs())


def test_each_definition_is_defined_in_its_feature_folder(defs):
    repo = defs.get_repository_def()
    loaded = {key.to_user_string() for key in repo.asset_graph.get_all_asset_keys()}
    loaded |= {key.name for key in repo.asset_graph.asset_check_keys}
    loaded |= {d.name for d in [*repo.get_all_jobs(), *repo.schedule_defs, *repo.sensor_defs]}
    for module_name, attributes in DEFINED_IN.items():
        module = importlib.import_module(f"etl_project.defs.{module_name}")
        for attribute in attributes:
            definition = getattr(module, attribute)
            if isinstance(definition, dg.AssetsDefinition):
                names = {key.to_user_string() for key in definition.keys}
                names |= {key.name for key in definition.check_keys}
            else:
                names = {definition.name}
            assert names <= loaded, f"{module_name}.{attribute} is not in the code location"
    for module_name, keys in RESOURCES_DEFINED_IN.items():
        module = importlib.import_module(f"etl_project.defs.{module_name}")
        (provider,) = [v for v in vars(module).values() if isinstance(v, LazyDefinitions)]
        assert set(provider().resources) == keys, module_name


def test_dg_check_defs_passes_from_the_repository_root():
    """`dg check defs` as a developer runs it: the [tool.dg] settings find etl_project.defs and the instance
    works without DAGSTER_HOME or DAGSTER_POSTGRES_URL (a temporary one)."""
    dg_cli = Path(sys.executable).with_name("dg")
    assert dg_cli.exists(), "the dg CLI (dagster-dg-cli, in the dev extra) is not installed next to Python"
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"DAGSTER_HOME", "DAGSTER_POSTGRES_URL"} and not name.startswith(("ETL_", "SLACK_"))
    }
    result = subprocess.run(
        [str(dg_cli), "check", "defs"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_every_definition_shown_in_the_ui_has_a_description(defs):
    """Sensors, schedules, jobs, assets and asset checks tell the person looking at the UI what they do."""
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    described = {
        **{f"sensor {s.name}": s.description for s in repo.sensor_defs},
        **{f"schedule {s.name}": s.description for s in repo.schedule_defs},
        **{f"job {j.name}": j.description for j in repo.get_all_jobs() if not j.name.startswith("__")},
        **{f"asset {k.to_user_string()}": graph.get(k).description for k in graph.get_all_asset_keys()},
        **{
            f"check {k.to_user_string()}": graph.get_check_spec(k).description for k in graph.asset_check_keys
        },
    }
    assert len(described) >= len(ASSETS | ASSET_CHECKS | JOBS | SCHEDULES | SENSORS)
    assert [name for name, text in described.items() if not (text and text.strip())] == []
