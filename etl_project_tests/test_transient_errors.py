"""Errors that say what they are: a transient failure of a load (connection lost, serialization failure,
deadlock) is retried by the step's retry policy; a bug or a data problem fails the step at once."""

import dagster as dg
import psycopg2
import psycopg2.errors
import pytest

from etl_project.defs.ingestion import batch_results
from etl_project.loading import RowsNotAccountedForError, TerminalLoadError, is_transient, load_batch
from etl_project_tests.helpers import count_rows, materialize_batches, write_generated_batch


@pytest.mark.parametrize(
    "error",
    [
        psycopg2.OperationalError("server closed the connection unexpectedly"),
        psycopg2.InterfaceError("connection already closed"),
        psycopg2.errors.SerializationFailure("could not serialize access"),
        psycopg2.errors.DeadlockDetected("deadlock detected"),
    ],
)
def test_lost_connections_serialization_failures_and_deadlocks_are_transient(error):
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        RowsNotAccountedForError("b.csv: 10 rows read but 9 loaded and 0 rejected; rolling back"),
        TerminalLoadError("a bug"),
        AssertionError("a bug"),
        ValueError("a bug"),
        psycopg2.errors.UniqueViolation("duplicate key"),
        psycopg2.errors.UndefinedColumn("column does not exist"),
    ],
)
def test_bugs_and_data_problems_are_terminal(error):
    assert not is_transient(error)


def _step_attempts(result: dg.ExecuteInProcessResult) -> int:
    restarts = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_RESTARTED]
    return 1 + len(restarts)


def test_a_bug_in_the_accounting_fails_the_step_at_once_without_retries(
    instance, resources, shared_dir, monkeypatch
):
    write_generated_batch(shared_dir, "b1")

    def miscounting(conn, batch_id, path):
        raise RowsNotAccountedForError(f"{path.name}: 10 rows read but 9 loaded and 0 rejected; rolling back")

    monkeypatch.setattr(batch_results, "load_batch", miscounting)
    result = materialize_batches(instance, resources, ["b1"], raise_on_error=False)
    assert not result.success
    assert _step_attempts(result) == 1
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert "RowsNotAccountedForError" in failure.step_failure_data.error.message
    assert "not retried" in failure.step_failure_data.error.message


def test_a_lost_connection_is_retried_and_the_batch_loads_once(
    instance, resources, shared_dir, db, monkeypatch
):
    write_generated_batch(shared_dir, "b1")
    calls = []

    def lost_once(conn, batch_id, path):
        calls.append(batch_id)
        if len(calls) == 1:
            raise psycopg2.OperationalError("server closed the connection unexpectedly")
        return load_batch(conn, batch_id, path)

    monkeypatch.setattr(batch_results, "load_batch", lost_once)
    result = materialize_batches(instance, resources, ["b1"], raise_on_error=False)
    assert result.success
    assert _step_attempts(result) == 2 and calls == ["b1", "b1"]
    assert count_rows(db, "b1")["raw_events"] > 0
