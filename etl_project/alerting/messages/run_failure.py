"""The message about a failed run."""

from etl_project.alerting.messengers import AlertMessage


def run_failure_message(job_name: str, run_id: str, error_line: str, link: str) -> AlertMessage:
    return AlertMessage(
        title=f":rotating_light: Run of {job_name} failed",
        lines=[error_line, f"run {run_id}"],
        link=link,
        link_text="Open the run in Dagster",
    )
