"""The deployment's topology without containers: a file dropped in the shared directory ends up in PostgreSQL.

Code server, daemon and webserver run as separate processes sharing a PostgreSQL-backed Dagster instance
(the repository's dagster.local.yaml, so the run queue, run monitoring and sensor settings are the real ones), as
in docker-compose.yml; only the run launcher differs: the default one, which starts each run as a process of
the code server, instead of a container per run. Everything is observed from outside, through the
webserver's GraphQL API, as an operator or a monitoring probe would.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import psycopg2
import psycopg2.extensions
import pytest

from etl_project.paths import PROJECT_ROOT
from etl_project_tests.helpers import count_rows, write_generated_batch

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]

LOCATION = "etl_project"
BATCH_ID = "deploy_batch"
#: Longest waits; together well within pytest's timeout. The whole test normally takes about 30 s.
START_SECONDS = 60
FLOW_SECONDS = 120
BIN = Path(sys.executable).parent
#: Dagster colours its log lines; the tails quoted in failure messages read better without.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")

T = TypeVar("T")

WORKSPACE = """
query {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
}
"""

SENSOR_TICKS = """
query ($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { ticks(limit: 20) { status runIds error { message } } } }
  }
}
"""

PARTITION_KEYS = """
query ($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) { __typename ... on AssetNode { partitionKeys } }
}
"""

RUNS = """
query ($filter: RunsFilter!) {
  runsOrError(filter: $filter) { __typename ... on Runs { results { runId status tags { key value } } } }
}
"""


class Deployment:
    """The processes of one deployment, their logs, and the webserver's GraphQL API.

    Each process leads a process group of its own, so that stopping it also stops what it started (the code
    server's gRPC child, run workers).
    """

    def __init__(self, env: dict[str, str], log_dir: Path, webserver_url: str):
        self.env = env
        self.log_dir = log_dir
        self.webserver_url = webserver_url
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *command: str) -> None:
        with (self.log_dir / f"{name}.log").open("wb") as log:
            self.processes[name] = subprocess.Popen(
                [str(BIN / command[0]), *command[1:]],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        """SIGTERM each group, newest first, and wait; SIGKILL whatever is left of it."""
        for process in reversed(self.processes.values()):
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
            except ProcessLookupError:
                continue
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()

    def logs(self, lines: int = 40) -> str:
        tails = []
        for name in self.processes:
            path = self.log_dir / f"{name}.log"
            text = ANSI_ESCAPE.sub("", path.read_text(encoding="utf-8", errors="replace"))
            tails.append(
                f"--- {name}: last {lines} lines of {path} ---\n" + "\n".join(text.splitlines()[-lines:])
            )
        return "\n".join(tails)

    def wait_for(self, what: str, probe: Callable[[], T | None], timeout: float = FLOW_SECONDS) -> T:
        """Poll `probe` until it returns something other than None.

        Fails with the tail of every log on timeout, and at once when a process exited or the probe saw
        something that cannot turn out well (it raises AssertionError).
        """
        __tracebackhide__ = True  # a failure points at the test's step, not at this loop
        deadline = time.monotonic() + timeout
        while True:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    pytest.fail(f"{name} exited ({process.returncode}) waiting for {what}\n{self.logs()}")
            try:
                result = probe()
            except AssertionError as err:
                pytest.fail(f"While waiting for {what}: {err}\n{self.logs()}")
            if result is not None:
                return result
            if time.monotonic() > deadline:
                pytest.fail(f"Timed out after {timeout:.0f} s waiting for {what}\n{self.logs()}")
            time.sleep(1)

    def graphql(self, query: str, variables: dict | None = None) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.webserver_url}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.load(response)
        assert not body.get("errors"), body["errors"]
        return body["data"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _grpc_serving(port: int) -> bool | None:
    """The health check docker-compose.yml runs against the code server."""
    check = subprocess.run(
        [str(BIN / "dagster"), "api", "grpc-health-check", "-h", "127.0.0.1", "-p", str(port)],
        capture_output=True,
        timeout=30,
        check=False,
    )
    return True if check.returncode == 0 else None


def _webserver_up(url: str) -> bool | None:
    """The health check docker-compose.yml runs against the webserver."""
    try:
        with urllib.request.urlopen(f"{url}/server_info", timeout=5) as response:
            return True if response.status == 200 else None
    except (urllib.error.URLError, ConnectionError):
        return None


def _location_loaded(deployment: Deployment) -> bool | None:
    """Whether the webserver has loaded the code location; a load error (an import error...) fails."""
    workspace = deployment.graphql(WORKSPACE)["workspaceOrError"]
    assert workspace["__typename"] == "Workspace", workspace
    [entry] = [e for e in workspace["locationEntries"] if e["name"] == LOCATION]
    if entry["loadStatus"] != "LOADED":
        return None
    location = entry["locationOrLoadError"]
    assert location["__typename"] == "RepositoryLocation", location
    return True


@pytest.fixture
def deployment(
    tmp_path: Path, database_url: str, dagster_storage_url: str, shared_dir: Path
) -> Iterator[Deployment]:
    """Code server, daemon and webserver, started in the order of docker-compose.yml's depends_on."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "dagster.local.yaml", home / "dagster.yaml")
    grpc_port, webserver_port = _free_port(), _free_port()
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        f"load_from:\n  - grpc_server: {{host: 127.0.0.1, port: {grpc_port}, location_name: {LOCATION}}}\n",
        encoding="utf-8",
    )
    # The developer's own settings (a Slack token, another database) must not leak into the deployment.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ETL_", "SLACK_", "DAGSTER_"))}
    env |= {
        "DAGSTER_HOME": str(home),
        "DAGSTER_POSTGRES_URL": dagster_storage_url,
        "ETL_DATABASE_URL": database_url,
        "ETL_SHARED_DATA_DIR": str(shared_dir),
        "ETL_FILE_SETTLE_SECONDS": "0",
        "ETL_GENERATOR_ENABLED": "false",
    }
    deployment = Deployment(env, tmp_path, webserver_url=f"http://127.0.0.1:{webserver_port}")
    try:
        deployment.start(
            "code_server",
            *("dagster", "code-server", "start", "-h", "127.0.0.1", "-p", str(grpc_port)),
            *("-m", "etl_project.definitions", "--location-name", LOCATION),
        )
        deployment.wait_for(
            "the code server's gRPC health check", lambda: _grpc_serving(grpc_port), START_SECONDS
        )
        deployment.start("daemon", "dagster-daemon", "run", "-w", str(workspace))
        deployment.start(
            "webserver",
            *("dagster-webserver", "-h", "127.0.0.1", "-p", str(webserver_port), "-w", str(workspace)),
        )
        deployment.wait_for(
            "the webserver's /server_info", lambda: _webserver_up(deployment.webserver_url), START_SECONDS
        )
        deployment.wait_for("the webserver to load the code location", lambda: _location_loaded(deployment))
        yield deployment
    finally:
        deployment.stop()


def test_file_in_shared_directory_is_loaded_by_separate_dagster_processes(
    deployment: Deployment, shared_dir: Path, db: psycopg2.extensions.connection
):
    write_generated_batch(shared_dir, BATCH_ID)

    def sensor_requested_a_run() -> list[str] | None:
        selector = {
            "repositoryLocationName": LOCATION,
            "repositoryName": "__repository__",
            "sensorName": "batch_file_sensor",
        }
        sensor = deployment.graphql(SENSOR_TICKS, {"selector": selector})["sensorOrError"]
        assert sensor["__typename"] == "Sensor", sensor
        ticks = sensor["sensorState"]["ticks"]
        failed = [t["error"]["message"] for t in ticks if t["status"] == "FAILURE"]
        assert not failed, f"batch_file_sensor failed: {failed[0]}"
        return next((t["runIds"] for t in ticks if t["status"] == "SUCCESS" and t["runIds"]), None)

    def partition_registered() -> bool | None:
        node = deployment.graphql(PARTITION_KEYS, {"assetKey": {"path": ["raw_events"]}})["assetNodeOrError"]
        assert node["__typename"] == "AssetNode", node
        return True if BATCH_ID in node["partitionKeys"] else None

    def load_succeeded(run_ids: list[str]) -> str | None:
        variables = {"filter": {"pipelineName": "load_batches_job", "runIds": run_ids}}
        for run in deployment.graphql(RUNS, variables)["runsOrError"]["results"]:
            assert run["status"] not in {"FAILURE", "CANCELED"}, f"run {run['runId']} ended {run['status']}"
            tags = {t["key"]: t["value"] for t in run["tags"]}
            if run["status"] == "SUCCESS" and tags.get("dagster/partition") == BATCH_ID:
                return run["runId"]
        return None

    run_ids = deployment.wait_for("a batch_file_sensor tick that requests a run", sensor_requested_a_run)
    deployment.wait_for(f"partition {BATCH_ID} of raw_events", partition_registered)
    deployment.wait_for(f"a successful load_batches_job run of {BATCH_ID}", lambda: load_succeeded(run_ids))

    counts = count_rows(db, BATCH_ID)
    assert counts["sales"] > 0, counts
    assert counts["rejected_events"] == 0, counts
