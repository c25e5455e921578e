"""The message about a failed data-quality check: which check, which batch and file, and what it found."""

import json
from urllib.parse import quote

from etl_project.defs.alerting.check_evaluations import CheckEvaluation
from etl_project.defs.alerting.messengers import AlertMessage

#: Metadata shown as one line each when the check reports them (the per-batch checks' contract).
COUNT_KEYS = ("rows_in_file", "rows_loaded", "rows_rejected", "rejected_percent")


def check_failure_message(evaluation: CheckEvaluation, webserver_url: str) -> AlertMessage:
    """One message per failed check, batch and episode."""
    key = evaluation.check_key
    icon = ":x:" if evaluation.severity.value == "ERROR" else ":warning:"
    where = f" for batch {evaluation.partition}" if evaluation.partition else ""
    title = f"{icon} {key.name} failed on {key.asset_key.to_user_string()}{where}"
    meta = evaluation.metadata
    lines = [evaluation.description] if evaluation.description else []
    if meta.get("file"):
        lines.append(f"file: {meta['file']}")
    counts = [f"{name.replace('_', ' ')} {meta[name]}" for name in COUNT_KEYS if name in meta]
    if counts:
        lines.append(", ".join(counts))
    lines += [f"{r['reason']}: {r['count']} rows" for r in _top_reasons(meta.get("top_reasons"))]
    asset_path = "/".join(quote(part, safe="") for part in key.asset_key.path)
    link = f"{webserver_url.rstrip('/')}/assets/{asset_path}?view=checks"
    return AlertMessage(title=title, lines=lines, link=link, link_text=f"Open {key.name} in Dagster")


def _top_reasons(value: object) -> list[dict]:
    """`top_reasons` as a list of {"reason", "count"}, whether stored as JSON metadata or a JSON string."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    if not isinstance(value, list):
        return []
    return [r for r in value if isinstance(r, dict) and "reason" in r and "count" in r][:5]
