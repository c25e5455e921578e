"""`etl quarantine list | retry BATCH | drop BATCH`: files that could not be read, and dealing with them.

`retry` and `drop` run quarantined_batch_job in this process against the platform's Dagster instance, so the UI
shows the run, and the batch's partition turns green (retry) or disappears (drop) as if launched from there.
"""

import argparse
import os
from pathlib import Path

from etl_project.cli.errors import CommandError, dagster_console_config
from etl_project.cli.settings import dagster_storage_url, etl_database
from etl_project.loading import quarantined_files
from etl_project.paths import LOCAL_DAGSTER_HOME
from etl_project.printable import escape_control


def _dagster_instance():
    """The instance `etl dev` runs (DAGSTER_HOME, default the project's; storage on DAGSTER_POSTGRES_URL)."""
    import dagster as dg  # imported only by the commands that run a job

    home = Path(os.environ.setdefault("DAGSTER_HOME", str(LOCAL_DAGSTER_HOME)))
    if (home / "dagster.yaml").exists() and not os.getenv("DAGSTER_POSTGRES_URL"):
        os.environ["DAGSTER_POSTGRES_URL"] = dagster_storage_url()
    return dg.DagsterInstance.get()


def cmd_list(args: argparse.Namespace) -> int:
    with etl_database().connect() as conn:
        files = quarantined_files(conn)
    if not files:
        print("No quarantined files.")
        return 0
    for f in files:
        # batch ids and reasons come from file names: escape anything that would drive the terminal
        print(
            f"{escape_control(f.batch_id)}\t{f.recorded_at:%Y-%m-%d %H:%M:%S %Z}\t{escape_control(f.reason)}"
        )
        if f.earlier_version_loaded:
            print("\t(an earlier version of this file is still loaded)")
    print(
        f"{len(files)} quarantined: `etl quarantine retry BATCH` once fixed, `etl quarantine drop BATCH` to give up."
    )
    return 0


def _run(args: argparse.Namespace, action: str) -> int:
    from etl_project.definitions import load_definitions  # the code location, as the UI runs the job

    job = load_definitions().get_job_def("quarantined_batch_job")  # with the code location's resources
    batch_id = args.batch_id
    with _dagster_instance() as instance:
        result = job.execute_in_process(
            run_config={
                "ops": {"handle_quarantined_batch": {"config": {"batch_id": batch_id, "action": action}}},
                **dagster_console_config(args),
            },
            instance=instance,
            raise_on_error=False,
        )
    if result.success:
        done = (
            "loaded"
            if action == "retry"
            else "dropped: its partition is deleted and this version is never loaded"
        )
        print(f"Batch {escape_control(batch_id)!r} {done} (run {result.run_id}).")
        return 0
    failure = result.failure_data_for_node("handle_quarantined_batch")
    error = failure.error if failure is not None else None
    while error is not None and error.cause is not None and error.message.startswith("dagster."):
        error = error.cause  # Dagster wraps a user error; the innermost cause says what happened
    line = (error.message.strip().splitlines() or ["the run failed"])[0] if error else "the run failed"
    line = line.removeprefix("dagster._core.definitions.events.Failure: ")
    raise CommandError(escape_control(line), hint=f"{_NEXT_STEP[action]} (run {result.run_id} in the UI)")


#: What to do after a failed retry or drop (the error line says what went wrong).
_NEXT_STEP = {
    "retry": "fix or replace the file, then retry; or give up on it: `etl quarantine drop BATCH`",
    "drop": "see `etl quarantine list` for the quarantined batches",
}


def cmd_retry(args: argparse.Namespace) -> int:
    return _run(args, "retry")


def cmd_drop(args: argparse.Namespace) -> int:
    return _run(args, "drop")


def register(sub: argparse._SubParsersAction) -> None:
    quarantine = sub.add_parser(
        "quarantine", help="list files that could not be read; retry (once fixed) or drop one"
    )
    actions = quarantine.add_subparsers(dest="quarantine_command", required=True)
    actions.add_parser("list", help="quarantined batches with the time and the reason").set_defaults(
        func=cmd_list
    )
    retry = actions.add_parser(
        "retry", help="load a quarantined batch's file again (after fixing or replacing it)"
    )
    retry.add_argument(
        "batch_id", help="the batch (file name without .csv), as `etl quarantine list` shows it"
    )
    retry.set_defaults(func=cmd_retry)
    drop = actions.add_parser(
        "drop", help="give up on a quarantined file: delete its partition; that version is never loaded"
    )
    drop.add_argument(
        "batch_id", help="the batch (file name without .csv), as `etl quarantine list` shows it"
    )
    drop.set_defaults(func=cmd_drop)
