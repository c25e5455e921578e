"""What a sensor's tick did, written where Dagster's tick list shows it: the tick's cursor.

Dagster 1.13's tick list shows a tick that requested no run as "0 runs requested" and its skip reason only on
hover; the one free text the list prints for each tick is the cursor the tick ended with. So a sensor that acts
without requesting runs (it sends or queues alerts) ends a tick that did something with a cursor saying what
("sent 1 message to #etl-alerts"), and an idle tick with none (the list shows a dash). A sensor that keeps state
in its cursor keeps it at the end, after `state=`, where `cursor_state` finds it again.
"""

from __future__ import annotations

import dagster as dg

SEPARATOR = " · "
STATE_MARKER = "state="


def tick_cursor(did: str | None, state: str | None = None) -> str | None:
    """The cursor of a tick that did `did` (None: nothing) and keeps `state` (None: a stateless sensor)."""
    parts = [part for part in (did, None if state is None else STATE_MARKER + state) if part]
    return SEPARATOR.join(parts) or None


def cursor_state(cursor: str | None) -> str | None:
    """The state kept in `cursor` by `tick_cursor`; a cursor written before there were summaries is all state."""
    if not cursor:
        return None
    _, marker, state = cursor.rpartition(SEPARATOR + STATE_MARKER)
    if marker:
        return state
    return cursor.removeprefix(STATE_MARKER)


def report_tick(context: dg.SensorEvaluationContext, did: str | None, state: str | None = None) -> None:
    """End this tick with a cursor that says what it did; an idle tick of a stateless sensor ends with none
    (without this, Dagster would copy the previous tick's cursor, and every idle tick would repeat it)."""
    context.update_cursor(tick_cursor(did, state))
