"""The code location (workspace.yaml, deploy/, the Dockerfile and `dg` all load this module).

Every asset, check, job, schedule, sensor and resource is found in `etl_project/defs/`, one folder per feature,
by `dg.load_from_defs_folder`; resources read the environment when the definitions are built (see the README's
Configuration section). Only the executor is set here.
"""

from pathlib import Path

import dagster as dg


def load_definitions() -> dg.Definitions:
    """The whole code location, built now: each resource reads the environment at this moment."""
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
        # Steps run in the run's own process: a step subprocess costs more than these steps' work.
        dg.Definitions(executor=dg.in_process_executor),
    )


def build_resources() -> dict[str, object]:
    """Every resource configured from the environment, by key (as the code location binds them)."""
    return dict(load_definitions().resources)


defs = dg.definitions(load_definitions)
