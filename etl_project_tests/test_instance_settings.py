"""Settings of the Dagster instance (dagster.local.yaml, copied by deploy/dagster.yaml) as Dagster reads them."""

import dagster as dg
import yaml

from etl_project.paths import PROJECT_ROOT


def test_a_fresh_instance_shows_no_community_dialog():
    local = yaml.safe_load((PROJECT_ROOT / "dagster.local.yaml").read_text(encoding="utf-8"))
    with dg.instance_for_test(overrides={"nux": local["nux"]}) as instance:
        assert instance.nux_enabled is False
    with dg.instance_for_test() as instance:  # what it would be without the setting
        assert instance.nux_enabled is True
