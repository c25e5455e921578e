"""The analytics sensors as the daemon runs them, for tests: every sensor that may start a refresh of
store_daily_sales or a run of sales_drop_check, ticked in turn, and the runs they request executed in process
with the selection a launched run gets."""

import dagster as dg

from etl_project.defs.ingestion.assets import batch_event_tables
from etl_project.defs.ingestion.resources import DataQualityLimits
from etl_project.defs.sales_analytics.assets import store_daily_sales
from etl_project.defs.sales_analytics.checks import sales_drop_check
from etl_project.defs.sales_analytics.pending_refresh import (
    pending_sales_refresh_sensor,
    refresh_store_daily_sales_job,
)
from etl_project.defs.sales_analytics.sensors import analytics_automation_sensor

ANALYTICS_SENSORS = [analytics_automation_sensor, pending_sales_refresh_sensor]


class AnalyticsSensors:
    """Ticks of the analytics sensors (evaluated as the sensor daemon does, in user code) and their runs."""

    def __init__(self, instance: dg.DagsterInstance, resources: dict):
        self.instance = instance
        self.resources = {"data_quality_limits": DataQualityLimits(), **resources}
        self.cursors: dict[str, str | None] = {}

    def definitions(self) -> dg.Definitions:
        return dg.Definitions(
            assets=[batch_event_tables, store_daily_sales],
            asset_checks=[sales_drop_check],
            jobs=[refresh_store_daily_sales_job],
            sensors=ANALYTICS_SENSORS,
            resources=self.resources,
        )

    def tick(self) -> list[tuple[str | None, dg.RunRequest]]:
        """One tick of each sensor: (the sensor's job, or None for the automation sensor; the request)."""
        repository = self.definitions().get_repository_def()
        requests = []
        for sensor in ANALYTICS_SENSORS:
            context = dg.build_sensor_context(
                instance=self.instance,
                repository_def=repository,
                cursor=self.cursors.get(sensor.name),
                resources=self.resources,
            )
            result = sensor.evaluate_tick(context)
            self.cursors[sensor.name] = result.cursor
            job_name = sensor.job_name if sensor.has_jobs else None
            requests += [(job_name, r) for r in result.run_requests or []]
        return requests

    def launch(self, job_name: str | None, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
        """Run a request as a launched run does: the sensor's job, or the implicit asset job subset to the run's
        selection (a check list of None meaning "all the assets' checks", as in dagster's run creation)."""
        definitions = self.definitions()
        if job_name is not None:
            job = definitions.resolve_job_def(job_name)
            return job.execute_in_process(instance=self.instance, tags=request.tags)
        checks = request.asset_check_keys
        subset = definitions.resolve_implicit_global_asset_job_def().get_subset(
            asset_selection=set(request.asset_selection or []),
            asset_check_selection=None if checks is None else set(checks),
        )
        return subset.execute_in_process(instance=self.instance, tags=request.tags)

    def tick_and_launch(self) -> list[dg.ExecuteInProcessResult]:
        """One tick and its runs; each result says what ran (asset materialisations, check evaluations)."""
        return [self.launch(job_name, request) for job_name, request in self.tick()]

    def settle(self) -> None:
        """Tick and run until nothing more is requested."""
        for _ in range(5):
            if not self.tick_and_launch():
                return
        raise AssertionError("the analytics sensors kept requesting runs")
