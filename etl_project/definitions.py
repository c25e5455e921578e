"""The code location (workspace.yaml, deploy/, the Dockerfile and `dg` all load this module).

Every asset, check, job, schedule, sensor and resource is found in `etl_project/defs/`, one folder per feature,
by `dg.load_from_defs_folder`; resources read the environment when the definitions are built (see
docs/reference/configuration.md). Project-wide policy is set here, once: the executor and the warning filters.
"""

import warnings
from pathlib import Path

import dagster as dg

# Dagster 1.13 features the platform needs, each warning at every load of the definitions (in every process, on
# every command). Silenced here only; the features themselves are declared where they are used:
# - partitioned asset check specs (PreviewWarning): the only way to record a check per batch in a run covering
#   several batches (defs/ingestion/checks.py);
# - `use_user_code_server` of an automation condition sensor (BetaWarning): keeps a refresh from running
#   sales_drop_check along (defs/sales_analytics/sensors.py);
# - build_last_update_freshness_checks (SupersessionWarning): its successor gives no check evaluation for the
#   silence alert to follow (defs/alerting/freshness.py).
warnings.filterwarnings("ignore", category=dg.PreviewWarning, module=r"etl_project\.defs\.")
warnings.filterwarnings("ignore", category=dg.BetaWarning, module=r"etl_project\.defs\.")
warnings.filterwarnings("ignore", category=dg.SupersessionWarning, module=r"etl_project\.defs\.")


def load_definitions() -> dg.Definitions:
    """The whole code location, built now: each resource reads the environment at this moment.

    The defs folder's tree, as `dg.load_from_defs_folder` builds it, without the catalogue of every installed
    plugin's component types that it adds (this project declares no components). Building that catalogue imports
    each plugin (dagster-aws, dagster-docker, ...); without it, and with dagster-aws imported only for a bucket,
    loading the code location takes 2.4 s instead of 3.3 s in every process, each run's included.
    """
    tree = dg.ComponentTree.for_project(path_within_project=Path(__file__).parent)
    with warnings.catch_warnings():  # load_from_defs_folder silences these too
        warnings.simplefilter("ignore", category=dg.PreviewWarning)
        defs_folder = tree.build_defs(Path("."))  # the defs folder itself: etl_project/defs
    return dg.Definitions.merge(
        defs_folder,
        # Steps run in the run's own process: a step subprocess costs more than these steps' work.
        dg.Definitions(executor=dg.in_process_executor),
    )


def build_resources() -> dict[str, object]:
    """Every resource configured from the environment, by key (as the code location binds them)."""
    return dict(load_definitions().resources or {})


defs = dg.definitions(load_definitions)
