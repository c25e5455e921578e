"""The checks of `make compose-e2e` (started by scripts/compose_e2e.sh, which builds the images and starts the
Docker-compatible podman socket): the repository's docker-compose.yml, unchanged, run by docker-compose.

0. `up` with .env.example's placeholder passwords is refused (settings_check) before any database starts;
1. `up`: every service becomes healthy (settings_check ran and passed);
2. the UI is published only by the login proxy: 401 without credentials (or with wrong ones), 200 with the
   ones from the env file; the webserver publishes no port; cross-site requests get 403 (a foreign Origin or
   Host, GraphQL over GET or as a form POST) while the UI's own kind of requests (JSON POST and the
   WebSocket with its own Origin, a navigation from a link) pass;
3. two batch files copied into the shared volume are loaded by a run that DockerRunLauncher started in a
   container of its own (GraphQL through the proxy: run SUCCESS, tags `docker/container_id` and
   `dagster/image`; rows in the ETL database), among them a sales history with a drop, whose alert reaches
   a fake Slack on the host;
   the webserver sees the run's log files; only the daemon has the Docker socket and only the code server
   the Slack settings; the alert links to the proxy; no service is connected to a database as a superuser,
   the loader's `COPY ... TO PROGRAM` is refused, the analyst role reads but cannot write;
4. `down` and `up` again: the rows, the runs and the alert record are still there, no alert is repeated;
   the webserver recreated alone is found by the proxy;
5. the bucket path, once: `down -v`, `up` with the `bucket` profile (service s3, moto's server) and the stack
   pointed at its bucket; the same two batch files put into the bucket with boto3 from the host, loaded by
   run containers (recorded with an ETag), the alert received;
6. `down -v`: everything is removed, also when a check failed (then the services' logs are printed first).

Health checks: without systemd, podman records a container's health check but never runs it, so this script
runs each one (`podman healthcheck run`) at its interval from the compose file, at most every 10 s, as a
Docker engine would; docker-compose's `depends_on: condition: service_healthy` waits on the result.
"""

import argparse
import base64
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import boto3

from etl_project.generator.events import write_batch_file
from etl_testkit.batch_files import TABLES, write_generated_batch
from etl_testkit.fake_slack import BOT_TOKEN, FakeSlack
from etl_testkit.s3_server import FAKE_AWS_ENVIRONMENT
from etl_testkit.sales_history import AS_OF, history_events

#: The repository's root (run as `python -m scripts.<name>` from it).
ROOT = Path(__file__).resolve().parent.parent

PROJECT = "etl_project_e2e"
COMPOSE_FILE = ROOT / "docker-compose.yml"
SERVICES = ("etl_postgres", "dagster_postgres", "code_server", "webserver", "proxy", "daemon")
#: Created by docker-compose.yml under fixed names (the run launcher refers to them by these names).
NAMED_VOLUMES = ("etl_project_shared_data", "etl_project_dagster_storage")
NETWORK = "etl_project"
BATCHES = ("e2e_generated", "e2e_sales_history")
SLACK_CHANNEL = "#e2e-alerts"
LOCATION = "etl_project"
#: The bucket profile's run: its store (service s3, on the stack's network) and where the batches go.
S3_ENDPOINT = "http://s3:5000"
BUCKET_URL = "s3://e2e-batches/incoming/"
HEALTH_SECONDS = 420
FLOW_SECONDS = 360
#: How often a health check runs at most (the compose file's daemon interval is 60 s).
HEALTH_POLL_CAP = 10.0

T = TypeVar("T")

WORKSPACE = """
query { workspaceOrError { __typename ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""
RUNS = """
query ($filter: RunsFilter!) {
  runsOrError(filter: $filter) { __typename ... on Runs { results {
    runId status jobName tags { key value } } } }
}
"""


class CheckFailed(Exception):
    pass


def log(message: str) -> None:
    print(f"--- {time.strftime('%H:%M:%S')} {message}", flush=True)


def run(
    *command: str, check: bool = True, timeout: float = 600, **kwargs: Any
) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    if check and result.returncode != 0:
        raise CheckFailed(
            f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, every: float = 3) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise CheckFailed(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


class Stack:
    def __init__(self, socket_path: Path, env_file: Path, profiles: dict[str, tuple[str, ...]] | None = None):
        """`profiles`: compose profiles to enable -> the services each adds (checked like the others)."""
        self.socket_path = socket_path
        self.env_file = env_file
        self.profiles = profiles or {}
        self.services = SERVICES + tuple(s for added in self.profiles.values() for s in added)
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/root"),
            "DOCKER_HOST": f"unix://{socket_path}",
            "CONTAINERS_CONF": os.environ["CONTAINERS_CONF"],
        }

    def compose(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
        # A bare environment: only the env file configures the stack.
        return run(
            "docker-compose",
            *("-p", PROJECT, "-f", str(COMPOSE_FILE), "--env-file", str(self.env_file)),
            *(arg for profile in self.profiles for arg in ("--profile", profile)),
            *args,
            env=self.env,
            timeout=timeout,
            check=check,
        )

    def container(self, service: str) -> str:
        ids = self.compose("ps", "-q", service).stdout.split()
        if len(ids) != 1:
            raise CheckFailed(f"service {service}: expected one container, found {ids}")
        return ids[0]

    def health(self) -> dict[str, str]:
        """Service -> health status ("healthy", "starting", "unhealthy", or the state if not running)."""
        states = {}
        for service in self.services:
            ids = self.compose("ps", "-q", service).stdout.split()
            if not ids:
                states[service] = "missing"
                continue
            inspected = json.loads(run("podman", "inspect", ids[0]).stdout)[0]["State"]
            health = (inspected.get("Health") or inspected.get("Healthcheck") or {}).get("Status")
            states[service] = health if inspected["Status"] == "running" and health else inspected["Status"]
        return states

    def logs(self, tail: int = 60) -> str:
        return self.compose("logs", "--no-color", f"--tail={tail}", check=False, timeout=120).stdout


class HealthChecks(threading.Thread):
    """Runs the health checks of the project's containers, as the engine would (podman needs systemd for that)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stopped = threading.Event()
        self.next_run: dict[str, float] = {}

    def run(self) -> None:
        while not self.stopped.is_set():
            listed = run(
                "podman",
                "ps",
                "-q",
                "--no-trunc",
                "--filter",
                f"label=com.docker.compose.project={PROJECT}",
                check=False,
            ).stdout.split()
            now = time.monotonic()
            for container in listed:
                if now < self.next_run.get(container, 0):
                    continue
                config = run(
                    "podman", "inspect", "--format", "{{json .Config.Healthcheck}}", container, check=False
                )
                try:
                    healthcheck = json.loads(config.stdout or "null")
                except json.JSONDecodeError:
                    healthcheck = None
                if not healthcheck or not healthcheck.get("Test"):
                    self.next_run[container] = float("inf")
                    continue
                interval = (healthcheck.get("Interval") or 30_000_000_000) / 1e9
                self.next_run[container] = now + min(interval, HEALTH_POLL_CAP)
                try:
                    run("podman", "healthcheck", "run", container, check=False, timeout=60)
                except subprocess.TimeoutExpired:
                    pass
            self.stopped.wait(2)


def http(
    url: str,
    auth: tuple[str, str] | None = None,
    body: dict | bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """One request; `body` a dict is sent as JSON, bytes as they are (set Content-Type in `headers`)."""
    sent = {"Content-Type": "application/json"} if isinstance(body, dict) else {}
    if auth:
        sent["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    sent.update(headers or {})
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(url, data=data, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


class Ui:
    def __init__(self, url: str, auth: tuple[str, str]):
        self.url, self.auth = url, auth

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        status, body = http(f"{self.url}/graphql", self.auth, {"query": query, "variables": variables or {}})
        if status != 200:
            raise CheckFailed(f"GraphQL through the proxy: HTTP {status}: {body[:300]!r}")
        answer = json.loads(body)
        if answer.get("errors"):
            raise CheckFailed(f"GraphQL errors: {answer['errors']}")
        return answer["data"]

    def location_loaded(self) -> bool | None:
        try:
            workspace = self.graphql(WORKSPACE)["workspaceOrError"]
        except (CheckFailed, OSError):
            return None
        for entry in workspace.get("locationEntries", []):
            if entry["name"] == LOCATION and entry["loadStatus"] == "LOADED":
                location = entry["locationOrLoadError"]
                if location["__typename"] != "RepositoryLocation":
                    raise CheckFailed(f"code location failed to load: {location}")
                return True
        return None

    def runs(self, job: str) -> list[dict]:
        results = self.graphql(RUNS, {"filter": {"pipelineName": job}})["runsOrError"]["results"]
        return [{**r, "tags": {t["key"]: t["value"] for t in r["tags"]}} for r in results]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def psql(stack: Stack, env: dict[str, str], query: str) -> str:
    container = stack.container("etl_postgres")
    user, db = env["ETL_POSTGRES_USER"], env["ETL_POSTGRES_DB"]
    return run("podman", "exec", container, "psql", "-U", user, "-d", db, "-AtX", "-c", query).stdout.strip()


def row_counts(stack: Stack, env: dict[str, str]) -> dict[str, int]:
    names = ", ".join(f"'{b}'" for b in BATCHES)
    counts = {}
    for table in TABLES:
        counts[table] = int(psql(stack, env, f"SELECT count(*) FROM etl.{table} WHERE batch_id IN ({names})"))  # noqa: S608
    counts["store_daily_sales"] = int(psql(stack, env, "SELECT count(*) FROM etl.store_daily_sales"))
    counts["sales_drop_alerts"] = int(psql(stack, env, "SELECT count(*) FROM utilities.sales_drop_alerts"))
    return counts


def wait_healthy(stack: Stack) -> None:
    def all_healthy() -> bool | None:
        states = stack.health()
        bad = {s: v for s, v in states.items() if v in {"unhealthy", "exited", "missing", "dead"}}
        if bad and any(v != "missing" for v in bad.values()):
            raise CheckFailed(f"services not healthy: {states}")
        return True if all(v == "healthy" for v in states.values()) else None

    wait_for("every service healthy", all_healthy, HEALTH_SECONDS, every=5)
    log(f"every service healthy: {', '.join(stack.services)}")


def check_settings_passed(stack: Stack) -> None:
    container = stack.container("settings_check")
    state = json.loads(run("podman", "inspect", container).stdout)[0]["State"]
    if state["Status"] != "exited" or state["ExitCode"] != 0:
        raise CheckFailed(f"settings_check: {state['Status']}, exit code {state['ExitCode']}")


def up(stack: Stack) -> None:
    started = time.monotonic()
    stack.compose("up", "-d", "--no-build", timeout=HEALTH_SECONDS + 60)
    wait_healthy(stack)
    log(f"up and healthy in {time.monotonic() - started:.0f} s")


def check_login(stack: Stack, ui_url: str, auth: tuple[str, str]) -> None:
    for path in ("/", "/graphql", "/server_info"):
        status, _ = http(ui_url + path)
        if status != 401:
            raise CheckFailed(f"GET {path} without credentials: HTTP {status}, expected 401")
        status, _ = http(ui_url + path, (auth[0], auth[1] + "-wrong"))
        if status != 401:
            raise CheckFailed(f"GET {path} with a wrong password: HTTP {status}, expected 401")
    for path in ("/", "/server_info"):
        status, _ = http(ui_url + path, auth)
        if status != 200:
            raise CheckFailed(f"GET {path} with the credentials of the env file: HTTP {status}, expected 200")
    published = {
        service: run("podman", "port", stack.container(service), check=False).stdout.strip()
        for service in SERVICES
    }
    exposed = {service: ports for service, ports in published.items() if ports}
    if set(exposed) != {"proxy"} or "127.0.0.1:" not in exposed["proxy"]:
        raise CheckFailed(f"published ports: {exposed}; expected the proxy's, on 127.0.0.1 only")
    log(f"login: 401 without or with wrong credentials, 200 with them; published: {exposed}")


def raw_http(port: int, request: str) -> str:
    """The status line of a hand-written HTTP/1.1 request (for headers urllib will not send as given: Host,
    a WebSocket upgrade)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request.encode())
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n", 1)[0].decode(errors="replace")


def check_cross_site_requests(ui_url: str, auth: tuple[str, str]) -> None:
    """The proxy refuses what a page of another site (or a DNS-rebinding one) could send with the browser's
    cached login, and lets the UI's own kind of requests through."""
    query = {"query": "{ __typename }"}
    own = {"Origin": ui_url}
    mutation = urllib.parse.quote("mutation { __typename }")
    expected = [
        ("JSON POST from the UI's own origin", http(f"{ui_url}/graphql", auth, query, own), 200),
        ("JSON POST without Origin (scripts)", http(f"{ui_url}/graphql", auth, query), 200),
        (
            "JSON POST from another origin",
            http(f"{ui_url}/graphql", auth, query, {"Origin": "http://evil.example"}),
            403,
        ),
        ("JSON POST from an opaque origin", http(f"{ui_url}/graphql", auth, query, {"Origin": "null"}), 403),
        ("GraphQL over GET", http(f"{ui_url}/graphql?query={mutation}", auth), 403),
        (
            "GraphQL as a form POST",
            http(
                f"{ui_url}/graphql?query={mutation}",
                auth,
                b"a=b",
                {"Content-Type": "application/x-www-form-urlencoded"},
            ),
            403,
        ),
        (
            "GraphQL as text/plain with application/json after it",
            http(
                f"{ui_url}/graphql",
                auth,
                json.dumps(query).encode(),
                {"Content-Type": "text/plain; application/json"},
            ),
            403,
        ),
        (
            "a page navigated to from another site (a link in Slack)",
            http(
                f"{ui_url}/runs", auth, None, {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
            ),
            200,
        ),
    ]
    failed = [(what, status, want) for what, (status, _), want in expected if status != want]
    port = int(ui_url.rsplit(":", 1)[1])
    basic = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    host = ui_url.split("://", 1)[1]

    def websocket(origin: str, with_host: str = host) -> str:
        return raw_http(
            port,
            f"GET /graphql HTTP/1.1\r\nHost: {with_host}\r\nAuthorization: Basic {basic}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: graphql-ws\r\n"
            f"Origin: {origin}\r\n\r\n",
        )

    def page(with_host: str) -> str:
        return raw_http(
            port,
            f"GET / HTTP/1.1\r\nHost: {with_host}\r\nAuthorization: Basic {basic}\r\nConnection: close\r\n\r\n",
        )

    raw = [
        ("the UI's WebSocket from its own origin", websocket(ui_url), " 101 "),
        ("a WebSocket from another origin", websocket("http://evil.example"), " 403 "),
        ("a page for the deployment's own Host", page(host), " 200 "),
        ("a page for another Host (DNS rebinding)", page(f"evil.example:{port}"), " 403 "),
        (
            "a page for localhost when DAGSTER_WEBSERVER_URL says 127.0.0.1",
            page(f"localhost:{port}"),
            " 403 ",
        ),
    ]
    failed += [(what, line, want) for what, line, want in raw if want not in f"{line} "]
    if failed:
        raise CheckFailed(f"cross-site checks of the proxy: {failed}")
    log(
        f"cross-site: {len(expected) + len(raw)} checks passed (foreign Origin/Host, GraphQL GET and form POST: "
        "403; the UI's JSON POST, WebSocket and navigations: through)"
    )


def check_refuses_placeholders(stack: "Stack", work_dir: Path, images: dict[str, str]) -> None:
    """`up` with .env.example as it is (placeholders) stops at settings_check: no database is started."""
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    env_file = work_dir / "placeholders.env"
    env_file.write_text(example + "".join(f"{k}={v}\n" for k, v in images.items()), encoding="utf-8")
    refused = Stack(stack.socket_path, env_file)
    try:
        result = refused.compose("up", "-d", "--no-build", check=False, timeout=300)
        if result.returncode == 0:
            raise CheckFailed(
                "`up` with .env.example's placeholders succeeded; settings_check should refuse it"
            )
        said = refused.compose("logs", "--no-color", "settings_check", check=False).stdout
        for name in ("ETL_POSTGRES_PASSWORD", "DAGSTER_UI_PASSWORD", "DOCKER_GID"):
            if name not in said:
                raise CheckFailed(f"settings_check does not name {name}: {said}")
        running = {
            service: run(
                "podman", "ps", "-q",
                "--filter", f"label=com.docker.compose.project={PROJECT}",
                "--filter", f"label=com.docker.compose.service={service}",
            ).stdout.strip()
            for service in ("etl_postgres", "dagster_postgres")
        }  # fmt: skip
        if any(running.values()):
            raise CheckFailed(f"databases started despite the placeholders: {running}")
    finally:
        refused.compose("down", "-v", "--remove-orphans", "-t", "5", check=False)
    log("`up` with .env.example's placeholders: refused by settings_check, no database started")


def check_database_roles(stack: "Stack", env: dict[str, str]) -> None:
    """Nothing logs in as a superuser; the loader cannot run programs on the server; the analyst only reads."""

    def as_role(service: str, user: str, password: str, db: str, query: str) -> subprocess.CompletedProcess:
        # Over TCP with the role's password, as the services connect (the Unix socket trusts anyone).
        return run(
            "podman", "exec", "-e", f"PGPASSWORD={password}", stack.container(service),
            "psql", "-h", "127.0.0.1", "-U", user, "-d", db, "-AtX", "-v", "ON_ERROR_STOP=1", "-c", query,
            check=False,
        )  # fmt: skip

    loader = ("etl_postgres", env["ETL_POSTGRES_USER"], env["ETL_POSTGRES_PASSWORD"], env["ETL_POSTGRES_DB"])
    analyst = ("etl_postgres", env["ETL_ANALYST_USER"], env["ETL_ANALYST_PASSWORD"], env["ETL_POSTGRES_DB"])
    dagster = (
        "dagster_postgres",
        env["DAGSTER_POSTGRES_USER"],
        env["DAGSTER_POSTGRES_PASSWORD"],
        env["DAGSTER_POSTGRES_DB"],
    )
    problems = []
    superuser = "SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = current_user"
    for role in (loader, analyst, dagster):
        answer = as_role(*role, superuser)
        if answer.returncode != 0 or answer.stdout.strip() != "f":
            problems.append(
                f"{role[1]}: superuser/createrole/createdb = {answer.stdout.strip()} {answer.stderr.strip()}"
            )
    copy = as_role(*loader, "COPY (SELECT 1) TO PROGRAM 'id'")
    if copy.returncode == 0 or "pg_execute_server_program" not in copy.stderr:
        problems.append(f"the loader's COPY ... TO PROGRAM was not refused: {copy.stdout} {copy.stderr}")
    read = as_role(*analyst, "SELECT count(*) FROM etl.sales")
    if read.returncode != 0 or int(read.stdout.strip() or 0) == 0:
        problems.append(f"the analyst cannot read etl.sales: {read.stdout} {read.stderr}")
    write = as_role(*analyst, "DELETE FROM etl.sales")
    if write.returncode == 0:
        problems.append("the analyst could delete from etl.sales")
    owner = as_role(*loader, "SELECT string_agg(nspname || ':' || pg_get_userbyid(nspowner), ',' ORDER BY nspname) "
                    "FROM pg_namespace WHERE nspname IN ('etl', 'utilities', 'etl_staging')")  # fmt: skip
    if owner.stdout.strip() != ",".join(f"{n}:{loader[1]}" for n in ("etl", "etl_staging", "utilities")):
        problems.append(f"schema owners: {owner.stdout.strip()} {owner.stderr.strip()}")
    # Who the services are connected as (seen by the superuser over the container's socket).
    sessions = {}
    for service, db in (
        ("etl_postgres", env["ETL_POSTGRES_DB"]),
        ("dagster_postgres", env["DAGSTER_POSTGRES_DB"]),
    ):
        users = run(
            "podman", "exec", stack.container(service), "psql", "-U", "postgres", "-d", db, "-AtX", "-c",
            # The superuser itself aside: that is this very session (and the health checks' pg_isready).
            "SELECT DISTINCT usename FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND usename <> current_user",
        ).stdout.split()  # fmt: skip
        sessions[service] = sorted(users)
    # The ETL database may have no session at this moment (the services connect when they work).
    if not set(sessions["etl_postgres"]) <= {loader[1]} or sessions["dagster_postgres"] != [dagster[1]]:
        problems.append(f"services connected as {sessions}, expected the loader and the dagster role only")
    if problems:
        raise CheckFailed("database roles: " + "; ".join(problems))
    log(
        f"database roles: {loader[1]}, {analyst[1]}, {dagster[1]} are no superusers; the loader's COPY TO PROGRAM "
        f"is refused; the analyst reads and cannot write; the services are connected as {sessions}"
    )


def refuse_foreign_resources() -> None:
    """The network and two volumes have fixed names (the run launcher needs them): if a real deployment on
    this podman host owns them, stop rather than tear them down at the end."""
    owners = {}
    for kind, name in [("network", NETWORK)] + [("volume", v) for v in NAMED_VOLUMES]:
        inspected = run("podman", kind, "inspect", name, check=False)
        if inspected.returncode == 0:
            found = json.loads(inspected.stdout)[0]
            labels = found.get("Labels") or found.get("labels") or {}  # volumes say Labels, networks labels
            owners[name] = labels.get("com.docker.compose.project")
    foreign = {name: owner for name, owner in owners.items() if owner != PROJECT}
    if foreign:
        raise CheckFailed(
            f"{sorted(foreign)} exist and do not belong to project {PROJECT} (owners: {foreign}): "
            "another deployment uses them on this host; compose-e2e leaves them alone"
        )


def check_shared_storage_and_socket(stack: Stack, runs: list[dict]) -> None:
    """What the UI needs from the run containers and the engine: the step logs a run container wrote are
    in the storage volume the webserver reads, and the webserver (uid 10001, the socket's group through
    group_add) can talk to the engine to terminate runs."""
    webserver = stack.container("webserver")
    for r in runs:
        listed = run(
            "podman",
            "exec",
            webserver,
            "find",
            f"/opt/dagster/dagster_home/storage/{r['runId']}",
            "-type",
            "f",
            check=False,
        )
        if listed.returncode != 0 or not listed.stdout.strip():
            raise CheckFailed(f"the webserver sees no log files of run {r['runId']}: {listed.stderr.strip()}")
    ping = "import docker; print(docker.from_env().ping())"
    for service in ("daemon", "webserver", "code_server"):
        answer = run("podman", "exec", stack.container(service), "python", "-c", ping, check=False)
        reached = answer.stdout.strip() == "True"
        if reached != (service == "daemon"):
            raise CheckFailed(
                f"{service} {'reaches' if reached else 'cannot reach'} the Docker socket: {answer.stdout}{answer.stderr}"
            )
    slack = {
        service: sorted(
            line.split("=", 1)[0]
            for line in run("podman", "exec", stack.container(service), "env").stdout.splitlines()
            if line.startswith("SLACK_")
        )
        for service in ("daemon", "webserver", "code_server")
    }
    if slack["daemon"] or slack["webserver"] or "SLACK_BOT_TOKEN" not in slack["code_server"]:
        raise CheckFailed(f"Slack settings in the services' environments: {slack}")
    log(
        "the webserver reads the run's log files from the storage volume; only the daemon reaches the Docker "
        f"socket; Slack settings only in the code server ({slack})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", type=Path, required=True)
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--etl-image", required=True)
    parser.add_argument("--postgres-image", required=True)
    parser.add_argument("--proxy-image", required=True)
    parser.add_argument("--s3-image", required=True)
    args = parser.parse_args()

    ui_port = free_port()
    ui_url = f"http://127.0.0.1:{ui_port}"
    auth = ("e2e-admin", secrets.token_hex(12))
    # Listens on every interface: containers reach the host as host.containers.internal (the gateway of
    # their network), not on 127.0.0.1.
    slack = FakeSlack(host="0.0.0.0")  # noqa: S104
    env = {
        "ETL_POSTGRES_SUPERUSER_PASSWORD": secrets.token_hex(16),
        "ETL_POSTGRES_USER": "etl",
        "ETL_POSTGRES_DB": "etl",
        "ETL_POSTGRES_PASSWORD": secrets.token_hex(16),
        "ETL_ANALYST_USER": "analyst",
        "ETL_ANALYST_PASSWORD": secrets.token_hex(16),
        "DAGSTER_POSTGRES_SUPERUSER_PASSWORD": secrets.token_hex(16),
        "DAGSTER_POSTGRES_USER": "dagster",
        "DAGSTER_POSTGRES_DB": "dagster",
        "DAGSTER_POSTGRES_PASSWORD": secrets.token_hex(16),
        # The socket belongs to root's group; the daemon gets it (group_add).
        "DOCKER_GID": "0",
        "DOCKER_SOCKET": str(args.socket),
        "ETL_IMAGE": args.etl_image,
        "POSTGRES_IMAGE": args.postgres_image,
        "PROXY_IMAGE": args.proxy_image,
        "DAGSTER_UI_USERNAME": auth[0],
        "DAGSTER_UI_PASSWORD": auth[1],
        "DAGSTER_WEBSERVER_PORT": str(ui_port),
        "DAGSTER_WEBSERVER_URL": ui_url,
        "ETL_FILE_SETTLE_SECONDS": "1",
        "ETL_SALES_DROP_AS_OF_DATE": AS_OF.isoformat(),
        "ETL_SALES_DROP_THRESHOLD_PERCENT": "-20",
        "ETL_SALES_DROP_MIN_BASELINE": "50",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_CHANNEL": SLACK_CHANNEL,
        "SLACK_API_URL": f"http://host.containers.internal:{slack.port}/api/",
    }
    env_file = args.work_dir / "compose.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
    env_file.chmod(0o600)
    try:
        refuse_foreign_resources()
    except CheckFailed as err:
        print(f"\n=== compose-e2e FAILED: {err}\n", flush=True)
        return 1
    # From here on, the teardown of scripts/compose_e2e.sh (on interruption) may remove what the project owns.
    (args.work_dir / "stack-started").touch()
    stack = Stack(args.socket, env_file)
    health = HealthChecks()
    ok = False
    with slack:
        health.start()
        try:
            # Leftovers of an interrupted earlier run would make the data checks meaningless.
            stack.compose("down", "-v", "--remove-orphans", "-t", "5", check=False)
            times = {}
            images = {
                k: env[k]
                for k in (
                    "ETL_IMAGE",
                    "POSTGRES_IMAGE",
                    "PROXY_IMAGE",
                    "DOCKER_SOCKET",
                    "DAGSTER_WEBSERVER_PORT",
                )
            }
            check_refuses_placeholders(stack, args.work_dir, images)
            started = time.monotonic()
            up(stack)
            times["up"] = time.monotonic() - started
            check_settings_passed(stack)
            check_login(stack, ui_url, auth)
            check_cross_site_requests(ui_url, auth)
            ui = Ui(ui_url, auth)
            wait_for(
                "the webserver to load the code location (GraphQL through the proxy)", ui.location_loaded, 180
            )

            # --- a batch file flows: shared volume -> sensor -> run container -> PostgreSQL ---------------
            started = time.monotonic()
            code_server = stack.container("code_server")

            def copy_into_volume(path: Path) -> None:
                # `docker compose cp` as in docs/deployment.md; docker-compose 1.x has no cp, the engine does.
                run("podman", "cp", str(path), f"{code_server}:/opt/dagster/shared_data/{path.name}")

            runs = load_batches(stack, env, ui, args.etl_image, copy_into_volume, "the shared volume")
            counts = row_counts(stack, env)
            times["load"] = time.monotonic() - started
            check_shared_storage_and_socket(stack, runs)
            log(
                f"{len(runs)} load run(s) SUCCESS in container(s) "
                f"{[r['tags']['docker/container_id'][:12] for r in runs]}; rows: {counts}"
            )

            # --- the sales drop reaches Slack -----------------------------------------------------------
            wait_for_alert(slack, ui_url)
            times["alert"] = time.monotonic() - started
            counts = row_counts(stack, env)
            check_database_roles(stack, env)
            analytics = ui.runs("__ASSET_JOB")
            log(f"analytics runs: {[(r['jobName'], r['status']) for r in analytics]}")

            # --- down and up again keeps everything -----------------------------------------------------
            started = time.monotonic()
            stack.compose("down", "-t", "20")
            log("down (volumes kept)")
            up(stack)
            times["down/up"] = time.monotonic() - started
            wait_for("the webserver to load the code location after up", ui.location_loaded, 180)
            after = row_counts(stack, env)
            if after != counts:
                raise CheckFailed(f"rows changed across down/up: {counts} -> {after}")
            again = {r["runId"]: r["status"] for r in ui.runs("load_batches_job")}
            if again != {r["runId"]: r["status"] for r in runs}:
                raise CheckFailed(f"runs changed across down/up: {again}")
            listed = run(
                "podman", "exec", stack.container("code_server"), "ls", "/opt/dagster/shared_data"
            ).stdout
            if not all(f"{b}.csv" in listed for b in BATCHES):
                raise CheckFailed(f"shared volume lost files across down/up: {listed.split()}")
            check_login(stack, ui_url, auth)
            # A code change recreates the webserver alone (`up -d --build`), at a new address: the proxy finds it.
            stack.compose("up", "-d", "--no-deps", "--force-recreate", "webserver")
            wait_healthy(stack)
            wait_for("the UI through the proxy after the webserver was recreated", ui.location_loaded, 120)
            log("webserver recreated alone: the proxy reaches the new container")
            # A tick of the Slack sensor after the restart (every 30 s) must not repeat the alert.
            time.sleep(45)
            if len(slack.messages) != 1:
                raise CheckFailed(f"the alert was repeated after down/up: {slack.messages}")
            log(f"after down/up: same rows {after}, same runs, files kept, no repeated alert")

            # --- the bucket profile: the same flow from an S3-compatible store --------------------------
            started = time.monotonic()
            stack.compose("down", "-v", "--remove-orphans", "-t", "5")
            slack.messages.clear()
            stack = bucket_stack(stack, env, args.work_dir, args.s3_image)
            log(f"down -v; up again with the bucket profile ({BUCKET_URL}, endpoint {S3_ENDPOINT})")
            up(stack)
            wait_for("the webserver to load the code location (bucket profile)", ui.location_loaded, 180)
            bucket = s3_client_for(stack)
            bucket.create_bucket(Bucket=BUCKET_URL.split("/")[2])

            def put_into_bucket(path: Path) -> None:
                bucket_name, prefix = BUCKET_URL.removeprefix("s3://").split("/", 1)
                bucket.upload_file(str(path), bucket_name, f"{prefix}{path.name}")

            runs = load_batches(stack, env, ui, args.etl_image, put_into_bucket, BUCKET_URL)
            # The shared volume went with `down -v`; the ledger says so too: an object's version has an ETag.
            names = ", ".join(f"'{b}'" for b in BATCHES)
            from_bucket = psql(
                stack,
                env,
                "SELECT count(*) FROM utilities.processed_files "  # noqa: S608
                f"WHERE batch_id IN ({names}) AND status = 'loaded' AND source_etag IS NOT NULL",
            )
            if int(from_bucket) != len(BATCHES):
                raise CheckFailed(
                    f"{from_bucket} of {BATCHES} recorded as loaded from the bucket (with an ETag)"
                )
            wait_for_alert(slack, ui_url)
            times["bucket"] = time.monotonic() - started
            log(
                f"bucket: {len(runs)} load run(s) SUCCESS in container(s) "
                f"{[r['tags']['docker/container_id'][:12] for r in runs]}; rows: {row_counts(stack, env)}"
            )
            log("timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in times.items()))
            ok = True
        except Exception as err:  # noqa: BLE001 - any failure: report it with the services' logs, then tear down
            print(f"\n=== compose-e2e FAILED: {type(err).__name__}: {err}\n", flush=True)
            traceback.print_exc()
            try:
                print(stack.logs(), flush=True)
            except Exception as logs_err:  # noqa: BLE001 - the failure above is what matters
                print(f"(could not read the logs: {logs_err})")
        finally:
            health.stopped.set()
            if os.environ.get("COMPOSE_E2E_KEEP") == "1" and not ok:
                log(f"stack kept (COMPOSE_E2E_KEEP=1); env file {env_file}")
            else:
                stack.compose("down", "-v", "--remove-orphans", "-t", "5", check=False)
                for volume in NAMED_VOLUMES:
                    run("podman", "volume", "rm", "-f", volume, check=False)
                run("podman", "network", "rm", "-f", NETWORK, check=False)
                log("torn down (containers, volumes, network)")
    return 0 if ok else 1


def bucket_stack(stack: Stack, env: dict[str, str], work_dir: Path, s3_image: str) -> Stack:
    """The same stack with the `bucket` profile (service s3) and the settings that point every Dagster
    process and run at its bucket; moto's throwaway credentials, through the environment (AWS's chain)."""
    bucket_env = {
        **env,
        "S3_IMAGE": s3_image,
        "ETL_SOURCE_URL": BUCKET_URL,
        "ETL_S3_ENDPOINT_URL": S3_ENDPOINT,
        **FAKE_AWS_ENVIRONMENT,
    }
    env_file = work_dir / "compose-bucket.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in bucket_env.items()), encoding="utf-8")
    env_file.chmod(0o600)
    return Stack(stack.socket_path, env_file, profiles={"bucket": ("s3",)})


def s3_client_for(stack: Stack) -> Any:
    """boto3 on this host, to the s3 container's address on the stack's network (it publishes no port)."""
    networks = json.loads(
        run(
            "podman", "inspect", "--format", "{{json .NetworkSettings.Networks}}", stack.container("s3")
        ).stdout
    )
    address = networks[NETWORK]["IPAddress"]
    return boto3.client(
        "s3",
        endpoint_url=f"http://{address}:5000",
        region_name=FAKE_AWS_ENVIRONMENT["AWS_DEFAULT_REGION"],
        aws_access_key_id=FAKE_AWS_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
    )


def load_batches(
    stack: Stack, env: dict[str, str], ui: Ui, etl_image: str, put: Callable[[Path], None], where: str
) -> list[dict]:
    """BATCHES written and handed to `put` (into the shared volume, or the bucket), one after the other, each
    loaded (PostgreSQL) before the next; then every load run SUCCESS (GraphQL), each in a container of its own
    that DockerRunLauncher started from `etl_image`. Returns the runs."""
    with tempfile.TemporaryDirectory() as tmp:
        files = [
            write_generated_batch(Path(tmp), BATCHES[0]),
            write_batch_file(Path(tmp), BATCHES[1], datetime(2025, 4, 21, 6), history_events()),
        ]
        # The history first, the other batch once it is loaded: a refresh between the two batches would
        # judge 2025-04-20 on the generated batch alone ("No sales data"), a race of the product's own
        # (see the closing note of 2026-12-05), not of the deployment this run proves.
        for path in reversed(files):
            put(path)
            wait_for(
                f"{path.stem} to be loaded (PostgreSQL)",
                lambda name=path.stem: _batches_loaded(stack, env, [name]) or None,
                FLOW_SECONDS,
            )
    log(f"put {[p.name for p in reversed(files)]} into {where}, one after the other")

    def loads_succeeded() -> list[dict] | None:
        runs = ui.runs("load_batches_job")
        failed = [r for r in runs if r["status"] in {"FAILURE", "CANCELED"}]
        if failed:
            raise CheckFailed(f"load run(s) ended badly: {failed}")
        if runs and all(r["status"] == "SUCCESS" for r in runs) and _all_batches_loaded(stack, env):
            return runs
        return None

    runs = wait_for(
        "the load run(s) to succeed (GraphQL) and the rows (PostgreSQL)",
        loads_succeeded,
        FLOW_SECONDS,
    )
    for r in runs:
        if not r["tags"].get("docker/container_id"):
            raise CheckFailed(f"run {r['runId']} has no docker/container_id tag: not DockerRunLauncher's")
        if r["tags"].get("dagster/image") != etl_image:
            raise CheckFailed(f"run {r['runId']} ran {r['tags'].get('dagster/image')}, not {etl_image}")
    return runs


def wait_for_alert(slack: FakeSlack, ui_url: str) -> dict:
    """The one sales-drop alert of the sales history, at the fake Slack, linking to the UI behind the proxy."""

    def alerted() -> list[dict] | None:
        return list(slack.messages) or None

    messages = wait_for("the sales-drop alert at the fake Slack", alerted, FLOW_SECONDS, every=5)
    [message] = messages
    text = json.dumps(message)
    if message.get("channel") != SLACK_CHANNEL or "Corner" not in text or "Twin Shop" not in text:
        raise CheckFailed(f"unexpected Slack message: {message}")
    if f"{ui_url}/assets/" not in text:
        raise CheckFailed(f"the alert does not link to the UI behind the proxy ({ui_url}): {message}")
    log(f"sales-drop alert delivered to the fake Slack: {text[:200]}")
    return message


def _batches_loaded(stack: Stack, env: dict[str, str], batches: list[str] | tuple[str, ...]) -> bool:
    names = ", ".join(f"'{b}'" for b in batches)
    query = f"SELECT count(DISTINCT batch_id) FROM etl.raw_events WHERE batch_id IN ({names})"  # noqa: S608
    try:
        loaded = psql(stack, env, query)
    except CheckFailed as err:
        if 'relation "etl.raw_events" does not exist' in str(err):
            return False  # a fresh volume: the schema comes with the first connection (a sensor's tick)
        raise
    return int(loaded) == len(batches)


def _all_batches_loaded(stack: Stack, env: dict[str, str]) -> bool:
    return _batches_loaded(stack, env, BATCHES)


if __name__ == "__main__":
    shutil.which("docker-compose") or sys.exit("docker-compose is not installed")
    sys.exit(main())
