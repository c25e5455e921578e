"""The writer of a load: the connection holding the load's one transaction, driven from a thread of its own.

The load's main thread drives the validating connection and queues the writer's steps here; they run in order.
When no step is waiting, the writer does the work given to `work_when_idle` (validating slices itself), one
unit at a time, so that what the validator hands over is inserted as soon as it arrives. psycopg2 releases the
GIL while PostgreSQL works, so the two connections' server processes run at once.
"""

from __future__ import annotations

import queue
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import psycopg2.extensions
from psycopg2 import sql

from etl_project.loading.params import SqlParams

#: One unit of idle work: rows it inserted, or None when there is nothing left to do.
IdleWork = Callable[[psycopg2.extensions.cursor], int | None]


class LoadWriter:
    """Runs the writer's steps in order on its own thread; `finish` waits for them, `abort` drops them."""

    def __init__(self, conn: psycopg2.extensions.connection, cur: psycopg2.extensions.cursor):
        self._conn = conn
        self._cur = cur
        self._steps: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue()
        )
        self._idle_work: tuple[str, IdleWork] | None = None
        self._idle_rows: Counter[str] = Counter()
        self._failure: BaseException | None = None
        self._inserts: list[tuple[str | None, Future[int]]] = []
        self._thread = threading.Thread(target=self._run, name="batch-writer", daemon=True)
        self._thread.start()

    def submit(self, step: Callable[..., Any], *args: Any) -> Future[Any]:
        """Queue `step(writer_cursor, *args)`."""
        future: Future[Any] = Future()
        self._steps.put((future, step, args))
        return future

    def insert(self, table: str | None, statement: sql.Composable, params: SqlParams) -> None:
        """Queue an INSERT into `table` (None: rows not counted as loaded) from what the validator committed."""
        self._inserts.append((table, self.submit(_execute, statement, params)))

    def work_when_idle(self, table: str, work: IdleWork) -> None:
        """From this point of the queue on, do `work` whenever no step waits; its rows count as `table`'s."""
        self.submit(lambda _cur: setattr(self, "_idle_work", (table, work)))

    def finish(self) -> Counter[str]:
        """Wait for every step; rows inserted per table. The first failed step's error is raised."""
        self._steps.put(None)
        self._thread.join()
        if self._failure is not None:
            raise self._failure
        loaded = Counter(self._idle_rows)
        for table, inserted in self._inserts:
            if table is not None:
                loaded[table] += inserted.result()
        return loaded

    def abort(self) -> None:
        """Stop the writer's current statement and drop its queued steps; the transaction then rolls back."""
        self._failure = self._failure or _Aborted()
        self._conn.cancel()
        self._steps.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            try:
                item = self._steps.get_nowait() if self._idle_work else self._steps.get()
            except queue.Empty:
                self._do_idle_work()
                continue
            if item is None:
                return
            future, step, args = item
            if not future.set_running_or_notify_cancel():
                continue
            if self._failure is not None:  # the transaction is lost: later steps would fail anyway
                future.set_exception(self._failure)
                continue
            try:
                future.set_result(step(self._cur, *args))
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for the step
                self._failure = exc
                future.set_exception(exc)

    def _do_idle_work(self) -> None:
        assert self._idle_work is not None
        table, work = self._idle_work
        try:
            rows = None if self._failure is not None else work(self._cur)
        except BaseException as exc:  # noqa: BLE001 - raised by finish()
            self._failure = exc
            rows = None
        if rows is None:
            self._idle_work = None
        else:
            self._idle_rows[table] += rows


class _Aborted(Exception):
    """The load failed elsewhere; the writer's remaining steps are dropped."""


def _execute(cur: psycopg2.extensions.cursor, statement: sql.Composable, params: SqlParams) -> int:
    cur.execute(statement, params.as_params())
    return cur.rowcount
