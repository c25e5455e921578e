"""`make dev`'s terminal: warnings, errors (with their stack traces) and dry-run alerts, not every run's events.

dev_terminal_minute.txt is one minute of `etl dev`'s terminal at steady state (the history loaded, the generator
adding a batch a minute), as recorded before the filter: 92 lines, mostly each run's DEBUG events."""

import signal
import sys
from io import StringIO

from etl_project.cli.terminal_log import TerminalLogFilter, run_filtered
from etl_project.paths import PROJECT_ROOT

MINUTE = (PROJECT_ROOT / "etl_project_tests" / "dev_terminal_minute.txt").read_text(encoding="utf-8")
RUN = "load_batches_job - aaced86e-2d04-47db-9266-ca8b5506c75f - 1585 - batch_event_tables"
FAILURE = [
    f"\x1b[32m2026-12-05 20:48:07 +0000\x1b[0m - dagster - \x1b[31mERROR\x1b[0m - {RUN} - STEP_FAILURE - "
    'Execution of step "batch_event_tables" failed\n',
    "\n",
    'psycopg2.OperationalError: connection to server at "127.0.0.1", port 1 failed: Connection refused\n',
    "Stack Trace:\n",
    '  File "/x/dagster/_core/execution/plan/utils.py", line 57, in op_execution_error_boundary\n',
    "    yield\n",
]
DEBUG_EVENT = (
    f"2026-12-05 20:48:08 +0000 - dagster - DEBUG - {RUN} - RUN_FAILURE - Execution of run failed.\n"
)
DRY_RUN_ALERT = [
    "2026-12-05 20:48:14 +0000 - dagster - INFO - __repository__ - quarantined_file_slack_sensor - "
    "[dry run: no alert channel configured] would send:\n",
    ":no_entry: Quarantined file bad_header.csv\n",
    "• reason: bad_header.csv: wrong header: missing column(s) batch_id\n",
]
WARNING = (
    "\x1b[32m2026-12-05 20:47:38 +0000\x1b[0m - dagster.daemon.EventLogConsumerDaemon - \x1b[34mWARNING\x1b[0m"
    " - No cursor for event type DagsterEventType.RUN_FAILURE, ignoring older events\n"
)
PYTHON_WARNING = [
    "/x/dagster/_core/definitions/definitions_class.py:478: UserWarning: Found asset job named x\n",
    "  warnings.warn(warning)\n",
]
STARTUP = ["ETL database: postgresql://postgres:***@/etl?host=/x/.pgdata\n"]


def _shown(lines: list[str], level: str = "WARNING") -> list[str]:
    return list(TerminalLogFilter(level).filter(lines))


def test_a_steady_minute_prints_nothing_but_errors_warnings_and_alerts_print_whole():
    minute = MINUTE.splitlines(keepends=True)
    assert len(minute) > 80 and _shown(minute) == []

    lines = STARTUP + minute + FAILURE + [DEBUG_EVENT, WARNING] + PYTHON_WARNING + DRY_RUN_ALERT + minute

    assert _shown(lines) == STARTUP + FAILURE + [WARNING] + PYTHON_WARNING + DRY_RUN_ALERT


def test_more_on_request():
    minute = MINUTE.splitlines(keepends=True)
    info = _shown(minute, "INFO")
    assert info and all(" - INFO - " in line or not line.startswith("20") for line in info)
    assert len(_shown(minute, "DEBUG")) == len(minute)


def test_etl_dev_relays_the_filtered_output_and_the_exit_code():
    script = (
        "import sys; sys.stdout.write("
        + repr("".join([DEBUG_EVENT, WARNING, DEBUG_EVENT]))
        + "); sys.exit(3)"
    )
    out = StringIO()
    assert run_filtered([sys.executable, "-c", script], {}, "warning", out=out) == 3
    assert out.getvalue() == WARNING


def test_the_dev_server_stops_on_sigterm_even_when_started_with_sigint_ignored():
    """`etl dev &` from a script starts with SIGINT ignored; Dagster's dev server maps SIGTERM to its SIGINT
    handler, so the child must get SIGINT's default handling back, or SIGTERM would not stop it."""
    script = "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        out = StringIO()
        assert run_filtered([sys.executable, "-c", script], {}, "warning", out=out) == 0
    finally:
        signal.signal(signal.SIGINT, previous)
    assert out.getvalue().strip() == "True"
