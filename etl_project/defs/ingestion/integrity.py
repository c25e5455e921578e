"""references_valid: no sale references a store, product or order that does not exist.

An ERROR check on `sales`, evaluated by every load on what it touched (the batch's rows, and rows referencing
ids its reload removed) and by the daily verdict job on every row. A failure is posted to Slack like any check
marked `etl/alert_on_failure`. It guards the loader's own rules, so it should never fail: if it does, a bug let
rows lose what they reference, and the batches named are where to look.
"""

from __future__ import annotations

import dagster as dg

from etl_project.alerting.evaluations import ALERT_ON_FAILURE
from etl_project.loading import DanglingReferences, dangling_references_everywhere
from etl_project.resources import EtlDatabase

SALES = dg.AssetKey("sales")
REFERENCES_VALID = "references_valid"
_DESCRIPTION = (
    "Fails when a sale references a store, product or order that does not exist. Evaluated by every load on what "
    "it touched, and by daily_sales_verdict_job on every row. Such rows drop out of store_daily_sales and of the "
    "sales-drop verdict, so a failure names the batches that hold them."
)


def _metadata(found: DanglingReferences, scope: str) -> dict[str, dg.RawMetadataValue]:
    return {
        "scope": scope,
        "rows_referencing_missing": found.total,
        **{f"missing_{label.replace('.', '_')}": count for label, count in found.rows.items()},
        "batches": ", ".join(found.batches),
    }


def references_evaluation(found: DanglingReferences, scope: str) -> dg.AssetCheckEvaluation:
    """The check's evaluation after one load (the load's own step reports it)."""
    return dg.AssetCheckEvaluation(
        asset_key=SALES,
        check_name=REFERENCES_VALID,
        passed=found.total == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        description=found.summary(),
        metadata=_metadata(found, scope),
    )


@dg.asset_check(
    asset=SALES,
    name=REFERENCES_VALID,
    blocking=False,
    description=_DESCRIPTION,
    metadata={ALERT_ON_FAILURE: True},
)
def references_valid(etl_database: EtlDatabase) -> dg.AssetCheckResult:
    """Every row of every batch: one scan of etl.sales with the three lookups hashed."""
    with etl_database.connect() as conn:
        found = dangling_references_everywhere(conn)
    return dg.AssetCheckResult(
        passed=found.total == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        description=found.summary(),
        metadata=_metadata(found, "every row"),
    )
