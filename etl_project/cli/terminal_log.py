"""What `etl dev` prints: warnings and errors of every Dagster process, not every event of every run.

`dg dev` and everything it starts (webserver, daemon, code servers, one worker per run) write to the same
terminal: each run's console logger prints every event at DEBUG (Dagster's default when a run's config sets
no logger) and sensors log at INFO from the code server, ~160 lines a minute at steady state. Dagster's own
`python_log_level` would quiet them, but it also drops INFO messages from the run logs the UI shows. So
`etl dev` reads the terminal output of `dg dev` and passes on the records at or above its level (a record's
continuation lines, such as a stack trace, with it), Python warnings, and anything that is not a log record
(startup messages). The UI keeps every event of every run, whatever is shown here.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TextIO

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: Dagster's log format: `2026-12-05 20:47:38 +0000 - dagster.daemon.X - WARNING - message`.
_RECORD = re.compile(
    r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)? ?(?:[+-]\d\d:?\d\d|Z)? - \S+ - ([A-Z]+) - "
)
#: Records shown whatever the level: where the UI answers, and the alerts a platform without Slack settings
#: logs instead of sending (each is rare: once per problem).
_ALWAYS = re.compile(r"Serving dagster-webserver on |\[dry run: no alert channel configured\]")
#: `warnings` module output: `/path/file.py:478: UserWarning: message`.
_PYTHON_WARNING = re.compile(r"^\S+:\d+: \w*Warning: ")


class TerminalLogFilter:
    """Decides line by line what reaches the terminal; a record's continuation lines follow their record."""

    def __init__(self, level: str = "WARNING") -> None:
        self.threshold = LEVELS[level.upper()]
        self._showing = True  # lines before any record (startup messages) are shown
        self.hidden = 0

    def keep(self, line: str) -> bool:
        plain = _ANSI.sub("", line)
        record = _RECORD.match(plain)
        if record is not None:
            level = LEVELS.get(record.group(1), LEVELS["WARNING"])
            self._showing = level >= self.threshold or bool(_ALWAYS.search(plain))
        elif _PYTHON_WARNING.match(plain):
            self._showing = True
        if not self._showing:
            self.hidden += 1
        return self._showing

    def filter(self, lines: Iterable[str]) -> Iterable[str]:
        return (line for line in lines if self.keep(line))


def run_filtered(command: Sequence[str], env: Mapping[str, str], level: str, out: TextIO = sys.stdout) -> int:
    """Run `command` with its output passed through TerminalLogFilter(level); its exit code.

    Ctrl-C reaches the child directly (same process group) and this process keeps relaying its output until
    it has shut down; SIGTERM is forwarded to it. The child starts with SIGINT's default handling even when
    this process was started with it ignored (`etl dev &` from a script): Dagster's dev server stops on
    SIGTERM by mapping it to its SIGINT handler, so an inherited "ignore" made it ignore SIGTERM too.
    """
    child = subprocess.Popen(
        list(command),
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        bufsize=1,
        preexec_fn=_default_sigint if sys.platform != "win32" else None,
    )
    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN),  # the terminal sends it to the child too
        signal.SIGTERM: signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM)),
    }
    try:
        assert child.stdout is not None
        for line in TerminalLogFilter(level).filter(child.stdout):
            out.write(line)
            out.flush()
        return child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _default_sigint() -> None:
    """In the child, before it runs the command: SIGINT handled as usual, not as inherited."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
