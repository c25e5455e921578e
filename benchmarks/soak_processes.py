"""The processes of a deployment, started apart so that each one's memory can be followed: a code server
(`dagster code-server start`), the webserver and the daemon, the last two reaching the code through a workspace
that points at the code server's port, as a multi-machine deployment does.

Why apart: `dagster dev` and a daemon given a `python_module` workspace start their code server as a child, and
the run workers are children too; the soak reports each process' resident memory (VmRSS from /proc), and a
leak must be pinned on one of them.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.backlog import _stop_process_group, running_daemon
from benchmarks.support import BenchmarkError, tail
from etl_project.paths import PROJECT_ROOT

#: `dagster code-server start` is a proxy that serves the code from a child `dagster api grpc` process; the
#: other processes of its tree are run workers (the default run launcher starts each run from the code server).
_CODE_SERVER_CHILD = b"grpc"
#: What the Runs page and an asset's partition view ask the webserver, timed each sample.
UI_QUERY = """{
  runsOrError(limit: 25) { ... on Runs { results { runId status } } }
  assetNodeOrError(assetKey: {path: ["raw_events"]}) {
    ... on AssetNode { partitionStats { numMaterialized numPartitions } }
  }
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def grpc_workspace(path: Path, port: int) -> Path:
    """A workspace whose one code location is the code server listening on `port`."""
    path.write_text(
        f"load_from:\n  - grpc_server:\n      host: 127.0.0.1\n      port: {port}\n"
        "      location_name: etl_project\n",
        encoding="utf-8",
    )
    return path


@contextmanager
def _process(command: list[str], env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    """A process in a session of its own, stopped with everything it started."""
    with open(log_path, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc
    finally:
        _stop_process_group(proc)


def _wait_until(what: str, ready, proc: subprocess.Popen, log_path: Path, timeout_s: float = 180) -> None:
    deadline = time.time() + timeout_s
    while not ready():
        if proc.poll() is not None or time.time() > deadline:
            problem = f"exited with {proc.returncode}" if proc.poll() is not None else "timed out"
            log_tail = tail(log_path.read_text(encoding="utf-8", errors="replace"))
            raise BenchmarkError(f"{what} {problem}:\n{log_tail}")
        time.sleep(1)


def _code_server_answers(port: int, env: dict[str, str]) -> bool:
    check = [str(Path(sys.executable).with_name("dagster")), "api", "grpc-health-check", "-p", str(port)]
    return subprocess.run(check, env=env, capture_output=True, check=False).returncode == 0


@dataclass
class Deployment:
    """The running processes and where the webserver answers."""

    code_server: subprocess.Popen
    webserver: subprocess.Popen
    daemon: subprocess.Popen
    webserver_url: str
    logs: dict[str, Path]

    def processes(self) -> dict[str, subprocess.Popen]:
        return {"daemon": self.daemon, "webserver": self.webserver, "code server": self.code_server}

    def check_alive(self) -> None:
        for name, proc in self.processes().items():
            if proc.poll() is not None:
                log_tail = tail(self.logs[name].read_text(encoding="utf-8", errors="replace"))
                raise BenchmarkError(f"the {name} exited with {proc.returncode}:\n{log_tail}")

    def rss_mb(self) -> dict[str, float]:
        """Resident memory of each process; the code server's with its `dagster api grpc` child, no run worker."""
        tree = _process_tree()
        return {
            name: sum(
                _rss_kb(pid) for pid in _descendants(proc.pid, tree, with_children=name == "code server")
            )
            / 1024
            for name, proc in self.processes().items()
        }

    def ui_query_seconds(self) -> float | None:
        """How long the webserver takes to answer the Runs page and a partition count; None on an error."""
        body = json.dumps({"query": UI_QUERY}).encode()
        request = urllib.request.Request(
            f"{self.webserver_url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                answer = json.load(response)
        except OSError:
            return None
        return None if answer.get("errors") else time.perf_counter() - started


@contextmanager
def running_deployment(home: Path, folder: Path, env: dict[str, str]) -> Iterator[Deployment]:
    """Code server, then webserver and daemon on a workspace pointing at it; all stopped on exit."""
    env = {**env, "DAGSTER_HOME": str(home)}
    port, web_port = free_port(), free_port()
    workspace = grpc_workspace(folder / "workspace-grpc.yaml", port)
    logs = {name: folder / f"{name.replace(' ', '-')}.log" for name in ("code server", "webserver", "daemon")}
    bin_dir = Path(sys.executable).parent
    code_command = [str(bin_dir / "dagster"), "code-server", "start", "-h", "127.0.0.1", "-p", str(port)]
    code_command += ["-m", "etl_project.definitions", "--location-name", "etl_project"]
    web_command = [str(bin_dir / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(web_port)]
    web_command += ["-w", str(workspace)]
    with ExitStack() as stack:
        code = stack.enter_context(_process(code_command, env, logs["code server"]))
        _wait_until("the code server", lambda: _code_server_answers(port, env), code, logs["code server"])
        web = stack.enter_context(_process(web_command, env, logs["webserver"]))
        url = f"http://127.0.0.1:{web_port}"
        _wait_until("the webserver", lambda: _answers(f"{url}/server_info"), web, logs["webserver"])
        daemon = stack.enter_context(running_daemon(home, workspace, env, logs["daemon"]))
        yield Deployment(code, web, daemon, url, logs)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def _process_tree() -> dict[int, list[int]]:
    """Children of every process, from /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return children


def _descendants(pid: int, tree: dict[int, list[int]], *, with_children: bool) -> list[int]:
    found, todo = [pid], list(tree.get(pid, [])) if with_children else []
    while todo:
        child = todo.pop()
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if _CODE_SERVER_CHILD in cmdline:
            found.append(child)
        todo.extend(tree.get(child, []))
    return found


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
