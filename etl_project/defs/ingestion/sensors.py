"""batch_file_sensor: turns new batch files in the shared directory (or the bucket) into partitions and the runs
that load them."""

import hashlib
from collections.abc import Sequence
from math import ceil

import dagster as dg

from etl_project.defs.ingestion.assets import MAX_BATCHES_PER_RUN
from etl_project.defs.ingestion.jobs import LOAD_RUNS_AT_ONCE, load_batches_job
from etl_project.defs.ingestion.partitions import BATCH_PARTITIONS_NAME, batch_partitions
from etl_project.defs.ingestion.undecodable_files import quarantine_undecodable_names
from etl_project.defs.tick_reports import report_tick
from etl_project.loading import RecordedVersion, newest_filename, processed_versions, seen_again_unchanged
from etl_project.resources import EtlDatabase, SharedDirectory
from etl_project.sources import BatchFile, BatchSource

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
#: A backlog is split into more runs (to fill the load slots) only while each gets at least this many batches.
MIN_BATCHES_PER_RUN = 20
#: How many batch ids a tick's summary names before "and N more".
NAMES_IN_SUMMARY = 5


def _processed_files(etl_database: EtlDatabase, names: list[str]) -> dict[str, RecordedVersion]:
    """What the ledger knows of the listed files already processed, in one query.

    Partitions may have been pruned by retention, so the record, not the partition, says a file was loaded.
    """
    with etl_database.connect() as conn:
        return processed_versions(conn, names)


def _unchanged_content(
    etl_database: EtlDatabase, source: BatchSource, candidates: list[BatchFile]
) -> set[str]:
    """Batches among `candidates` (files with a new size or modification time) whose file holds exactly the
    loaded content: recorded as seen again, never reloaded. Only files of the loaded version's size are hashed."""
    if not candidates:
        return set()
    with etl_database.connect() as conn:
        return {
            file.batch_id
            for file in candidates
            if seen_again_unchanged(conn, file.batch_id, source.batch_object(file.batch_id))
        }


def run_count(batches: int, slots: int = LOAD_RUNS_AT_ONCE, max_per_run: int = MAX_BATCHES_PER_RUN) -> int:
    """How many runs load `batches` new batches: enough to fill the `slots` load runs allowed at once, in as few
    waves as the run size cap allows, with every wave full; but no run under MIN_BATCHES_PER_RUN just to fill
    a slot (a run's start-up costs about what that many batches take)."""
    if batches <= 0:
        return 0
    fewest = ceil(batches / max_per_run)  # the cap: no run over max_per_run
    full_waves = slots * ceil(fewest / slots)  # as many waves as the cap needs, each filling every slot
    return max(fewest, min(full_waves, batches // MIN_BATCHES_PER_RUN))


def plan_runs(
    new_batch_ids: list[str], slots: int = LOAD_RUNS_AT_ONCE, max_per_run: int = MAX_BATCHES_PER_RUN
) -> list[dg.RunRequest]:
    """Cover the new batches with runs of consecutive keys, as equal in size as can be (`run_count` of them).

    The keys must be added to the partitions definition in this same sorted order, so that each range
    [first, last] holds exactly the keys of its chunk. A single batch gets a plain single-partition run.
    """
    requests = []
    keys = sorted(new_batch_ids)
    runs = run_count(len(keys), slots, max_per_run)
    for index in range(runs):
        chunk = keys[len(keys) * index // runs : len(keys) * (index + 1) // runs]
        if len(chunk) == 1:
            requests.append(dg.RunRequest(run_key=f"batch:{chunk[0]}", partition_key=chunk[0]))
            continue
        digest = hashlib.sha256("\n".join(chunk).encode()).hexdigest()[:16]
        requests.append(
            dg.RunRequest(
                run_key=f"batches:{len(chunk)}:{digest}",
                tags={RANGE_START_TAG: chunk[0], RANGE_END_TAG: chunk[-1]},
            )
        )
    return requests


def _named(batch_ids: Sequence[str]) -> str:
    shown = ", ".join(batch_ids[:NAMES_IN_SUMMARY])
    more = len(batch_ids) - NAMES_IN_SUMMARY
    return f"{shown} and {more} more" if more > 0 else shown


def tick_summary(new: list[str], changed: list[str], unchanged: Sequence[str] = ()) -> str:
    """What a tick did, in words (the first line of the tick's log in the UI, or its skip reason)."""
    parts = []
    if new:
        parts.append(f"{len(new)} new file{'s' if len(new) != 1 else ''}: {_named(new)}")
    if changed:
        parts.append(
            f"{len(changed)} changed file{'s' if len(changed) != 1 else ''} to reload: {_named(changed)}"
        )
    if unchanged:
        parts.append(
            f"{len(unchanged)} file{'s' if len(unchanged) != 1 else ''} seen again with unchanged content "
            f"(same SHA-256 as loaded; not reloaded): {_named(unchanged)}"
        )
    return "; ".join(parts)


def _version_key(file: BatchFile) -> str:
    """The run key of a version's reload: its size, modification time and (an object) ETag."""
    key = f"batch:{file.batch_id}:{file.size}:{file.mtime_ns}"
    return f"{key}:{file.etag.strip(chr(34))}" if file.etag else key


@dg.sensor(
    name="batch_file_sensor",
    job=load_batches_job,
    minimum_interval_seconds=10,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every 10 s: each new complete <batch_id>.csv in the shared directory (or the bucket of "
    "ETL_SOURCE_URL) becomes a partition of "
    "`batches` and is loaded by load_batches_job; a file replaced after loading is reloaded, unless it holds "
    "the loaded content again (same SHA-256: recorded as seen again, not reloaded). A tick that found "
    "files names them in the Cursor column of the tick list; a skipped tick says how many files it looked "
    "at when you hover it.",
)
def batch_file_sensor(
    context: dg.SensorEvaluationContext, shared_directory: SharedDirectory, etl_database: EtlDatabase
) -> dg.SensorResult | dg.SkipReason:
    """Registers a partition for each new complete `*.csv` batch file and requests runs that load them.

    A file is new when it is neither a registered partition nor recorded in utilities.processed_files. A file
    whose size or modification time differs from the version loaded was replaced: it is reloaded, and the
    reload replaces the batch's rows, unless its SHA-256 equals the loaded content's (seen again, not reloaded). Files still being written (hidden temporary names, or modified within
    the settle time) wait for a later tick.
    """
    source = shared_directory.source()
    with etl_database.connect() as conn:
        newest_known = newest_filename(conn)  # a bucket lists in full only past it (BucketSource.scan)
    try:
        scan = source.scan(newest_known)
    except OSError as err:
        problem = f"Cannot list the shared directory {source.location}: {err.strerror or err}"
        report_tick(context, problem)
        return dg.SkipReason(problem)
    files, skipped = scan.ready, scan.skipped
    quarantine_undecodable_names(context.log, etl_database, scan.undecodable)  # never sent as they are
    for note in skipped:
        context.log.warning(f"Skipping {note}")
    known_partitions = set(context.instance.get_dynamic_partitions(BATCH_PARTITIONS_NAME))
    processed = _processed_files(etl_database, [f.name for f in files])
    new: list[str] = []
    touched: list[BatchFile] = []
    for file in files:
        seen = processed.get(file.name)
        if seen is None:
            if file.batch_id not in known_partitions:
                new.append(file.batch_id)
        elif seen.mtime_ns is not None and not seen.same_version(file.size, file.mtime_ns, file.etag):
            touched.append(file)  # a legacy pipeline's record (no mtime) is never reloaded, as in the legacy
    unchanged = _unchanged_content(etl_database, source, touched)
    changed = [file for file in touched if file.batch_id not in unchanged]
    if not new and not changed:
        if unchanged:
            summary = tick_summary([], [], sorted(unchanged))
            report_tick(context, summary)
            return dg.SkipReason(summary)
        report_tick(context, None)
        return dg.SkipReason(f"No new files among {len(files)} in {source.location}")
    new.sort()
    summary = tick_summary(new, sorted(f.batch_id for f in changed), sorted(unchanged))
    context.log.info(summary)
    report_tick(context, summary)
    for file in changed:
        context.log.warning(
            f"{file.name} changed since it was loaded; reloading it replaces batch {file.batch_id!r}"
        )
    to_register = new + sorted(f.batch_id for f in changed if f.batch_id not in known_partitions)
    reloads = [dg.RunRequest(run_key=_version_key(f), partition_key=f.batch_id) for f in changed]
    return dg.SensorResult(
        run_requests=plan_runs(new) + reloads,
        dynamic_partitions_requests=[batch_partitions.build_add_request(to_register)] if to_register else [],
    )
