"""The message about failed data-quality checks of one batch: which checks, which file, and what they found."""

import json
from collections.abc import Sequence
from urllib.parse import quote

from etl_project.defs.alerting.check_evaluations import CheckEvaluation
from etl_project.defs.alerting.messengers import AlertMessage

#: Metadata shown as one line each when the check reports them (the per-batch checks' contract).
COUNT_KEYS = ("rows_in_file", "rows_loaded", "rows_rejected", "rejected_percent")


def check_failure_message(evaluations: Sequence[CheckEvaluation], webserver_url: str) -> AlertMessage:
    """One message for the checks of one batch (partition) that started failing in the same tick.

    A batch with many bad sales fails rejected_share on `sales` and on `raw_events` (the whole file): people
    get one message about the batch naming both, not one per check.
    """
    first = evaluations[0]
    errors = any(e.severity.value == "ERROR" for e in evaluations)
    icon = ":x:" if errors else ":warning:"
    where = f" for batch {first.partition}" if first.partition else ""
    if len(evaluations) == 1:
        title = f"{icon} {first.check_key.name} failed on {first.check_key.asset_key.to_user_string()}{where}"
    else:
        failed = ", ".join(
            f"{e.check_key.name} on {e.check_key.asset_key.to_user_string()}" for e in evaluations
        )
        title = f"{icon} {failed} failed{where}"
    files = {e.metadata["file"] for e in evaluations if e.metadata.get("file")}
    lines = [f"file: {name}" for name in sorted(files)]
    for evaluation in evaluations:
        prefix = f"{evaluation.check_key.asset_key.to_user_string()}: " if len(evaluations) > 1 else ""
        if evaluation.description:
            lines.append(prefix + evaluation.description)
        meta = evaluation.metadata
        counts = [f"{name.replace('_', ' ')} {meta[name]}" for name in COUNT_KEYS if name in meta]
        if counts:
            lines.append(prefix + ", ".join(counts))
    lines += [f"{reason}: {count} rows" for reason, count in _top_reasons(evaluations)]
    asset_path = "/".join(quote(part, safe="") for part in first.check_key.asset_key.path)
    link = f"{webserver_url.rstrip('/')}/assets/{asset_path}?view=checks"
    return AlertMessage(title=title, lines=lines, link=link, link_text="Open the checks in Dagster")


def _top_reasons(evaluations: Sequence[CheckEvaluation]) -> list[tuple[str, int]]:
    """The most frequent reasons across the evaluations (each reason once, with its largest count)."""
    counts: dict[str, int] = {}
    for evaluation in evaluations:
        for reason in _reasons(evaluation.metadata.get("top_reasons")):
            counts[reason["reason"]] = max(counts.get(reason["reason"], 0), int(reason["count"]))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:5]


def _reasons(value: object) -> list[dict]:
    """`top_reasons` as a list of {"reason", "count"}, whether stored as JSON metadata or a JSON string."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    if not isinstance(value, list):
        return []
    return [r for r in value if isinstance(r, dict) and "reason" in r and "count" in r]
