"""What each kind of alert queues in the outbox, in the caller's transaction. Producers only queue: the
dispatcher (`outbox.deliver_pending`, called by alert_delivery_sensor) sends.

Each function takes plain values (the sensors read them from Dagster) and returns what it queued, for the
sensor's tick text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import psycopg2.extensions

from etl_project.alerting.evaluations import CheckEvaluation
from etl_project.alerting.messages import (
    check_failure_message,
    flowing_again_message,
    no_sales_data_message,
    quarantined_file_message,
    run_failure_message,
    sales_drop_message,
    silence_message,
)
from etl_project.alerting.messages.ingestion import LAST_UPDATED
from etl_project.alerting.outbox import enqueue_alert
from etl_project.store import sales_drop_alerts
from etl_project.store.alert_episodes import close_episode, open_episode
from etl_project.store.alert_outbox import AlertKind
from etl_project.store.processed_files import unannounced_quarantines

#: The episode subject of silent ingestion (one for the whole platform).
SILENCE_SUBJECT = "silence:ingestion"


def queue_check_failures(
    cur: psycopg2.extensions.cursor,
    evaluations: Sequence[CheckEvaluation],
    webserver_url: str,
    destinations: Sequence[str],
) -> int:
    """A failure opens an episode of (check, partition), a pass closes it; the episodes opened are announced
    in one message per batch (partition). Returns the messages queued."""
    opened: dict[str | None, list[tuple[CheckEvaluation, str]]] = {}
    for evaluation in evaluations:
        subject = f"check:{evaluation.check}:{evaluation.partition or ''}"
        if evaluation.passed:
            close_episode(cur, subject, evaluation.record_id)
            continue
        episode = open_episode(cur, subject, evaluation.record_id)
        if episode is not None:
            opened.setdefault(evaluation.partition, []).append((evaluation, f"{subject}#{episode}"))
    queued = 0
    for found in opened.values():
        message = check_failure_message([e for e, _ in found], webserver_url)
        alert_key = "+".join(key for _, key in found)
        if enqueue_alert(cur, alert_key, "check_failed", message, destinations):
            queued += 1
    return queued


def queue_silence_change(
    cur: psycopg2.extensions.cursor, evaluation: CheckEvaluation, link: str, destinations: Sequence[str]
) -> str | None:
    """Follows raw_events' freshness check: a failure after at least one load opens a silence (a platform
    that never loaded anything is not "silent"), the next pass closes it. Returns what was announced."""
    kind: AlertKind
    if evaluation.passed:
        episode = close_episode(cur, SILENCE_SUBJECT, evaluation.record_id)
        message, kind, said = flowing_again_message(evaluation, link), "ingestion_flowing", "flowing again"
    elif evaluation.metadata.get(LAST_UPDATED) is not None:
        episode = open_episode(cur, SILENCE_SUBJECT, evaluation.record_id)
        message, kind, said = silence_message(evaluation, link), "ingestion_silent", "silent"
    else:
        return None
    if episode is None:
        return None
    enqueue_alert(cur, f"{SILENCE_SUBJECT}#{episode}:{kind}", kind, message, destinations)
    return said


def queue_new_quarantines(
    cur: psycopg2.extensions.cursor, batch_link: Callable[[str], str], destinations: Sequence[str]
) -> list[str]:
    """Each quarantined file version not announced yet, once; returns the file names queued."""
    queued = []
    for found in unannounced_quarantines(cur):
        message = quarantined_file_message(
            found.batch_id, found.filename, found.reason, batch_link(found.batch_id)
        )
        if enqueue_alert(cur, found.alert_key, "quarantined_file", message, destinations) is not None:
            queued.append(found.filename)
    return queued


def queue_run_failure(
    cur: psycopg2.extensions.cursor,
    job_name: str,
    run_id: str,
    error_line: str,
    link: str,
    destinations: Sequence[str],
) -> bool:
    """A failed run, once (keyed by run id); False when it was announced before."""
    message = run_failure_message(job_name, run_id, error_line, link)
    return enqueue_alert(cur, f"run_failed:{run_id}", "run_failed", message, destinations) is not None


def queue_sales_verdict(
    cur: psycopg2.extensions.cursor,
    evaluation_key: str,
    metadata: Mapping[str, Any],
    flagged_stores: Sequence[Mapping[str, Any]],
    check_link: str,
    destinations: Sequence[str],
) -> bool:
    """The message of one final failed sales_drop_check evaluation, if it says anything not said before: the
    flagged stores not announced yet for that day (each (store, day) once), or "no sales data" once a day when
    the stores sold in the 7 days before."""
    as_of = metadata["as_of_date"]
    if metadata.get("no_sales_data") and metadata.get("seven_day_average_total") == 0:
        # Nothing sold in the 7 days before either (a platform with no history yet, a refresh still to come):
        # nothing to compare, and missing files are announced by the silence alert.
        return False
    if metadata.get("no_sales_data"):
        message = no_sales_data_message(as_of, check_link)
        return (
            enqueue_alert(cur, f"sales_no_data:{as_of}", "sales_no_data", message, destinations, as_of)
            is not None
        )
    done = sales_drop_alerts.announced(cur, as_of, [s["id"] for s in flagged_stores])
    new = [s for s in flagged_stores if s["id"] not in done]
    if not new:
        return False
    threshold = float(metadata["rule"]["threshold_percent"])
    message = sales_drop_message(as_of, new, threshold, check_link)
    message_id = enqueue_alert(
        cur, f"sales_drop:{evaluation_key}", "sales_drop", message, destinations, as_of
    )
    if message_id is None:
        return False
    sales_drop_alerts.record_announced(cur, as_of, [s["id"] for s in new], message_id)
    return True
