"""The message about failed data-quality checks of one batch: which checks, which file, and what they found."""

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from etl_project.alerting.evaluations import CheckEvaluation
from etl_project.alerting.messengers import AlertMessage

#: Metadata shown as one line each when the check reports them (the per-batch checks' contract).
COUNT_KEYS = ("rows_in_file", "rows_loaded", "rows_rejected", "rejected_percent")


def check_failure_message(evaluations: Sequence[CheckEvaluation], webserver_url: str) -> AlertMessage:
    """One message for the checks of one batch (partition) that started failing in the same tick.

    A batch with many bad sales fails rejected_share on `sales` and on `raw_events` (the whole file): people
    get one message about the batch naming both, not one per check.
    """
    first = evaluations[0]
    errors = any(e.severity == "ERROR" for e in evaluations)
    icon = ":x:" if errors else ":warning:"
    where = f" for batch {first.partition}" if first.partition else ""
    if len(evaluations) == 1:
        title = f"{icon} {first.check_name} failed on {first.asset}{where}"
    else:
        failed = ", ".join(f"{e.check_name} on {e.asset}" for e in evaluations)
        title = f"{icon} {failed} failed{where}"
    files = {e.metadata["file"] for e in evaluations if e.metadata.get("file")}
    lines = [f"file: {name}" for name in sorted(files)]
    for evaluation in evaluations:
        prefix = f"{evaluation.asset}: " if len(evaluations) > 1 else ""
        if evaluation.description:
            lines.append(prefix + evaluation.description)
        meta = evaluation.metadata
        counts = [f"{name.replace('_', ' ')} {meta[name]}" for name in COUNT_KEYS if name in meta]
        if counts:
            lines.append(prefix + ", ".join(counts))
    lines += [f"{reason}: {count} rows" for reason, count in _top_reasons(evaluations)]
    asset_path = "/".join(quote(part, safe="") for part in first.asset_path)
    link = f"{webserver_url.rstrip('/')}/assets/{asset_path}?view=checks"
    return AlertMessage(title=title, lines=lines, link=link, link_text="Open the checks in Dagster")


def _top_reasons(evaluations: Sequence[CheckEvaluation]) -> list[tuple[str, int]]:
    """The most frequent reasons across the evaluations (each reason once, with its largest count)."""
    counts: dict[str, int] = {}
    for evaluation in evaluations:
        for reason in _reasons(evaluation.metadata.get("top_reasons")):
            counts[reason["reason"]] = max(counts.get(reason["reason"], 0), int(reason["count"]))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:5]


def _reasons(value: object) -> list[dict[str, Any]]:
    """`top_reasons` as a list of {"reason", "count"}, whether stored as JSON metadata or a JSON string."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    if not isinstance(value, list):
        return []
    return [r for r in value if isinstance(r, dict) and "reason" in r and "count" in r]
