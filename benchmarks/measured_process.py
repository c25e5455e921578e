"""Subprocesses measured from outside: wall time seen by the parent, and the program's own peak RSS.

Every load of the large batch and the generator run as subprocesses, so that a method's memory is its own and
not the benchmark's (Dagster imported, earlier results held); this is how they are run and measured.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.support import BenchmarkError, tail
from etl_project.paths import PROJECT_ROOT


@dataclass(frozen=True)
class Measured:
    """A finished subprocess: its wall time, its own peak RSS when sampled, and what it printed."""

    wall_s: float
    peak_rss_mb: float | None
    stdout: str


class _HighWaterSampler(threading.Thread):
    """Follows a running program's `VmHWM` (its own peak RSS since exec) in /proc.

    Not `getrusage`/`wait4`: Linux carries a child's max RSS across exec, so they report at least the RSS of
    the forked parent (~80 MB of Python with Dagster imported), even for psql. For the same reason a sample is
    taken only once the child runs `program` (its cmdline says so). VmHWM is a high-water mark: sampling misses
    at most what the program grows in its last interval.
    """

    def __init__(self, pid: int, program: str, interval_s: float = 0.01):
        super().__init__(daemon=True)
        self._proc = Path(f"/proc/{pid}")
        self._program = program.encode()
        self._interval_s = interval_s
        self._done = threading.Event()
        self.peak_kb = 0

    def run(self) -> None:
        while not self._done.is_set():
            try:
                if (self._proc / "cmdline").read_bytes().split(b"\0", 1)[0] == self._program:
                    for line in (self._proc / "status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            self.peak_kb = max(self.peak_kb, int(line.split()[1]))
            except (OSError, ValueError):
                return  # the process is gone
            self._done.wait(self._interval_s)

    def stop(self) -> float | None:
        self._done.set()
        self.join()
        return self.peak_kb / 1024 if self.peak_kb else None


def run_measured(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    sample_rss: bool = True,
    timeout_s: float | None = None,
) -> Measured:
    """Run `command` to completion; wall time seen from here and, if sampled, that program's own peak RSS.

    A program still running after `timeout_s` is killed and reported as a BenchmarkError.

    Python workers report their own VmHWM instead (`sample_rss=False`): they run the same interpreter as this
    process, so the sampler could not tell the forked copy of this process from the worker.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env) if env is not None else None,
        cwd=PROJECT_ROOT,
    )
    sampler = _HighWaterSampler(proc.pid, command[0]) if sample_rss else None
    if sampler:
        sampler.start()
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        if sampler:
            sampler.stop()
        raise BenchmarkError(f"{Path(command[0]).name} did not finish within {timeout_s:g} s") from None
    wall = time.perf_counter() - start
    peak_mb = sampler.stop() if sampler else None
    if proc.returncode != 0:
        raise BenchmarkError(f"{Path(command[0]).name} exited with {proc.returncode}:\n{tail(stderr)}")
    return Measured(wall_s=wall, peak_rss_mb=peak_mb, stdout=stdout)


def python_module(module: str, *args: str) -> list[str]:
    """Command line running `module` with this interpreter (the project's virtualenv)."""
    return [sys.executable, "-m", module, *args]
