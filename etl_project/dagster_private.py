"""The only imports of Dagster's private modules (`dagster._...`), each with the reason no public API does.

Pinned Dagster (1.13.27): a Dagster upgrade that moves one of these fails here, at import, in one place.
"""

# The cron arithmetic Dagster's scheduler itself uses: a day's sales verdict is "due" at the first scheduled
# tick after the day ends, and computing it with another cron library could disagree with the schedule by a
# tick (DST, day-of-week rules). Dagster exports no cron iterator.
# The materialisation an AssetCheckEvaluation judged: not exported at the top level, yet needed to build an
# evaluation per partition of a range run (Dagster's own AssetCheckResult fills it in the same way).
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._utils.schedules import cron_string_iterator

__all__ = ["AssetCheckEvaluationTargetMaterializationData", "cron_string_iterator"]
