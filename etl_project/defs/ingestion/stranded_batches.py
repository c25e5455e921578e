"""stranded_batch_sensor: no registered batch stays unloaded and unquarantined for long, whatever the cause.

batch_file_sensor never requests a partition that is already registered, so a batch whose run failed for good
(three retries of a lost connection), was never launched (the daemon died between registering the partition
and submitting the run) or was cancelled would never load. Every two minutes this sensor compares the
registered partitions with the ledger (utilities.processed_files) and the load runs still queued or running;
a partition with neither, for `STRANDED_AFTER_SECONDS` in a row, is requested again. After
`MAX_SWEEP_ATTEMPTS` requests without a record its file is quarantined with that reason, so that it shows in
`etl status` and is announced once. Cost at 100k partitions: the partition list and one column of the ledger.
"""

import hashlib
import json
import time
from collections.abc import Sequence

import dagster as dg

from etl_project.defs.ingestion.assets import MAX_BATCHES_PER_RUN
from etl_project.defs.ingestion.jobs import load_batches_job
from etl_project.defs.ingestion.partitions import BATCH_PARTITIONS_NAME
from etl_project.loading import record_quarantined_version
from etl_project.resources import EtlDatabase, SharedDirectory
from etl_project.store.processed_files import recorded_batch_ids

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
#: A partition without a record and without a run for this long is stranded.
STRANDED_AFTER_SECONDS = 300
#: Requests of a stranded partition before its file is quarantined instead.
MAX_SWEEP_ATTEMPTS = 3
_ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def _now() -> float:
    return time.time()


def _keys_of_active_runs(
    instance: dg.DagsterInstance, position: dict[str, int], ordered: Sequence[str]
) -> set[str]:
    """Partitions covered by a load run that is queued or running (a single key or a range of keys)."""
    covered: set[str] = set()
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=load_batches_job.name, statuses=_ACTIVE))
    for run in runs:
        single = run.tags.get("dagster/partition")
        if single:
            covered.add(single)
        first, last = run.tags.get(RANGE_START_TAG), run.tags.get(RANGE_END_TAG)
        if first in position and last in position:
            covered.update(ordered[position[first] : position[last] + 1])
    return covered


def _run_requests(due: list[str], position: dict[str, int], now: float) -> list[dg.RunRequest]:
    """Consecutive partitions (in registration order) share a run, up to MAX_BATCHES_PER_RUN."""
    chunks: list[list[str]] = []
    for key in sorted(due, key=position.__getitem__):
        chunk = chunks[-1] if chunks else None
        if chunk and position[key] == position[chunk[-1]] + 1 and len(chunk) < MAX_BATCHES_PER_RUN:
            chunk.append(key)
        else:
            chunks.append([key])
    requests = []
    for chunk in chunks:
        digest = hashlib.sha256("\n".join(chunk).encode()).hexdigest()[:16]
        run_key = f"sweep:{digest}:{int(now)}"
        if len(chunk) == 1:
            requests.append(dg.RunRequest(run_key=run_key, partition_key=chunk[0]))
        else:
            requests.append(
                dg.RunRequest(run_key=run_key, tags={RANGE_START_TAG: chunk[0], RANGE_END_TAG: chunk[-1]})
            )
    return requests


@dg.sensor(
    name="stranded_batch_sensor",
    job=load_batches_job,
    minimum_interval_seconds=120,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every 2 minutes: a registered batch partition with no record in utilities.processed_files and "
    f"no queued or running load for {STRANDED_AFTER_SECONDS // 60} minutes is loaded again; after "
    f"{MAX_SWEEP_ATTEMPTS} attempts its file is quarantined with the reason.",
)
def stranded_batch_sensor(
    context: dg.SensorEvaluationContext, etl_database: EtlDatabase, shared_directory: SharedDirectory
) -> dg.SensorResult | dg.SkipReason:
    """Requests the stranded partitions again; its cursor holds, per stranded key, since when and how often."""
    state = json.loads(context.cursor) if context.cursor else {}
    since: dict[str, float] = state.get("since", {})
    attempts: dict[str, int] = state.get("attempts", {})
    ordered = context.instance.get_dynamic_partitions(BATCH_PARTITIONS_NAME)
    with etl_database.connect() as conn:
        recorded = recorded_batch_ids(conn)
    unrecorded = [key for key in ordered if key not in recorded]
    stranded: list[str] = []
    if unrecorded:
        position = {key: n for n, key in enumerate(ordered)}
        active = _keys_of_active_runs(context.instance, position, ordered)
        stranded = [key for key in unrecorded if key not in active]
    now = _now()
    since = {key: since.get(key, now) for key in stranded}
    attempts = {key: attempts[key] for key in stranded if key in attempts}
    due = [key for key in stranded if now - since[key] >= STRANDED_AFTER_SECONDS]
    given_up = [key for key in due if attempts.get(key, 0) >= MAX_SWEEP_ATTEMPTS]
    retried = [key for key in due if key not in given_up]
    if given_up:
        source = shared_directory.source()
        with etl_database.connect() as conn:
            for key in given_up:
                reason = (
                    f"{key}.csv: not loaded after {MAX_SWEEP_ATTEMPTS} more runs (see their failures); "
                    "fix the cause, then `etl quarantine retry`"
                )
                batch_object = source.batch_object(key)
                record_quarantined_version(conn, key, batch_object.name, batch_object.version(), reason)
                context.log.error(f"Batch {key!r} quarantined: {reason}")
                del since[key]
                attempts.pop(key, None)
    for key in retried:
        attempts[key] = attempts.get(key, 0) + 1
        since[key] = now
    cursor = json.dumps({"since": since, "attempts": attempts}, sort_keys=True)
    summary = (
        f"{len(ordered)} partitions, {len(unrecorded)} without a record, {len(stranded)} of them without a "
        f"queued or running load; requested again: {len(retried)}; quarantined after "
        f"{MAX_SWEEP_ATTEMPTS} attempts: {len(given_up)}"
    )
    if not retried:
        return dg.SensorResult(skip_reason=summary, cursor=cursor)
    context.log.info(f"{summary}: {', '.join(sorted(retried)[:5])}")
    return dg.SensorResult(run_requests=_run_requests(retried, position, now), cursor=cursor)
