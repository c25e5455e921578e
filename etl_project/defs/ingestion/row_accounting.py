"""The sentence that makes a batch materialisation's counts add up, shown first in its metadata.

On raw_events `rows_in_file`, `dagster/row_count` and `rows_rejected` are three different counts (rows rejected
for their envelope never reach raw_events; the others are rejected by the event tables after it); on an event
table the counts are of that event type only. Metadata entries carry no description in Dagster 1.13's UI, so
the explanation is an entry of its own.
"""

from __future__ import annotations

from etl_project.loading import RowsAccount

ROW_ACCOUNTING = "row_accounting"


def _rows(n: int) -> str:
    return f"{n} row{'' if n == 1 else 's'}"


def file_accounting(account: RowsAccount, in_raw_events: int) -> str:
    """raw_events: the whole file, `in_raw_events` of whose rows reached raw_events."""
    envelope = account.rows_in_file - in_raw_events
    return (
        f"{_rows(account.rows_in_file)} in the file (rows_in_file) = {account.rows_loaded} loaded into the event "
        f"tables + {account.rows_rejected} rejected (rows_rejected). raw_events holds {in_raw_events} "
        f"(dagster/row_count): all but the {envelope} rejected before reaching it (envelope_rejects)."
    )


def table_accounting(account: RowsAccount, event_type: str) -> str:
    """An event table: the file's rows of its event type."""
    return (
        f"{_rows(account.rows_in_file)} of {event_type} in the file = {account.rows_loaded} in this table "
        f"(dagster/row_count) + {account.rows_rejected} rejected (rows_rejected)."
    )
