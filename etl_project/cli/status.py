"""`etl status`: what the platform did lately, without SQL or the UI: files loaded, rows, rejected rows by reason,
quarantined files and alerts still waiting to be delivered; and the Dagster instance's runs and size.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from datetime import datetime

import psycopg2.extensions

from etl_project.cli.instance_status import instance_lines
from etl_project.cli.settings import dagster_storage_url, etl_database
from etl_project.printable import escape_control
from etl_project.resources.postgres import redact_url
from etl_project.store import alert_outbox, processed_files, rejected_events
from etl_project.store.rows import one_row

#: Quarantined files listed one by one; more are counted.
QUARANTINED_LISTED = 20


@dataclass
class PlatformStatus:
    """The last `hours` hours as recorded in the ETL database."""

    hours: int
    since: datetime
    files_loaded: int = 0
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rejects_by_reason: list[tuple[str, int]] = field(default_factory=list)
    quarantined: list[tuple[str, datetime, str]] = field(default_factory=list)
    pending_alerts: int = 0
    oldest_pending_alert: datetime | None = None
    last_delivery_error: str | None = None

    def lines(self) -> list[str]:
        out = [
            f"Last {self.hours} h (since {self.since:%Y-%m-%d %H:%M %Z}):",
            f"  files loaded       {self.files_loaded:,}",
            f"  rows               {self.rows_read:,} read, {self.rows_loaded:,} loaded, "
            f"{self.rows_rejected:,} rejected",
        ]
        if self.rejects_by_reason:
            out.append("  rejected rows by reason")
            width = max(len(reason) for reason, _ in self.rejects_by_reason)
            out += [f"    {reason:<{width}}  {count:,}" for reason, count in self.rejects_by_reason]
        out.append(f"  quarantined files  {len(self.quarantined):,}")
        for filename, at, reason in self.quarantined[:QUARANTINED_LISTED]:
            # the recorded reason usually starts with the file's name already
            reason = escape_control(reason.removeprefix(f"{filename}: "))
            out.append(f"    {escape_control(filename)} ({at:%Y-%m-%d %H:%M}): {reason}")
        if len(self.quarantined) > QUARANTINED_LISTED:
            out.append(f"    ... and {len(self.quarantined) - QUARANTINED_LISTED:,} more")
        pending = f"  pending alerts     {self.pending_alerts:,}"
        if self.oldest_pending_alert is not None:
            pending += f" (oldest from {self.oldest_pending_alert:%Y-%m-%d %H:%M})"
        out.append(pending)
        if self.last_delivery_error:
            out.append(f"    last delivery error: {self.last_delivery_error}")
        return out


def read_status(conn: psycopg2.extensions.connection, hours: int) -> PlatformStatus:
    """Read the status in one snapshot (a repeatable-read transaction)."""
    conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT now() - make_interval(hours => %s)", (hours,))
        status = PlatformStatus(hours=hours, since=one_row(cur)[0])
        loaded = processed_files.loaded_since(cur, status.since)
        status.files_loaded, status.rows_read = loaded.files, loaded.rows_read
        status.rows_loaded, status.rows_rejected = loaded.rows_loaded, loaded.rows_rejected
        status.rejects_by_reason = rejected_events.categories_since(cur, status.since)
        status.quarantined = processed_files.quarantined_since(cur, status.since)
        pending = alert_outbox.pending_summary(cur)
        status.pending_alerts, status.oldest_pending_alert = pending.count, pending.oldest
        status.last_delivery_error = pending.last_error
    return status


def cmd_status(args: argparse.Namespace) -> int:
    database = etl_database()
    print(f"ETL database: {redact_url(database.resolved_url())}")
    with database.connect() as conn:
        status = read_status(conn, args.hours)
    print("\n".join(status.lines()))
    if os.getenv("DAGSTER_POSTGRES_URL") or not os.getenv(
        "ETL_DATABASE_URL"
    ):  # set, or the embedded server's
        print("\n".join(instance_lines(dagster_storage_url())))
    else:
        print("Dagster instance: set DAGSTER_POSTGRES_URL (its storage) to see its runs and size")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    status = sub.add_parser(
        "status",
        help="what the platform did lately: files loaded, rows, rejects by reason, quarantined files, "
        "pending alerts",
    )
    status.add_argument("--hours", type=int, default=24, help="how many hours back to look")
    status.set_defaults(func=cmd_status)
