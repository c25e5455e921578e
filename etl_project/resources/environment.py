"""Resource settings from the environment, shared by every `resources.py` under etl_project/defs/."""

import os
from typing import Any

import dagster as dg


def env_settings(**names: str) -> dict[str, Any]:
    """`field=EnvVar(NAME)` for each variable that is set; unset ones keep the resource's default.

    Values stay in the environment and are resolved in each process: the UI shows the variable's name,
    never a token or a password.
    """
    return {field: dg.EnvVar(name) for field, name in names.items() if os.getenv(name)}


def env_numbers(**names: str) -> dict[str, Any]:
    """Numeric settings (Dagster's EnvVar has no float form); not secrets, so read here."""
    return {field: float(os.environ[name]) for field, name in names.items() if os.getenv(name)}
