"""The docker-compose deployment's files: consistent with each other and with the local instance, no secrets.

Nothing here needs Docker: the files are read as YAML. When the `docker-compose` binary is installed, it also
validates docker-compose.yml with the placeholders of .env.example.
"""

import ast
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from etl_project.defs.ingestion.jobs import LOAD_RUNS_AT_ONCE, load_batches_job
from etl_project.paths import PROJECT_ROOT

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
LOCAL_INSTANCE = PROJECT_ROOT / "dagster.local.yaml"
DEPLOY_INSTANCE = PROJECT_ROOT / "deploy" / "dagster.yaml"
DEPLOY_WORKSPACE = PROJECT_ROOT / "deploy" / "workspace.yaml"

DAGSTER_SERVICES = ("code_server", "webserver", "daemon")
DATABASE_SERVICES = ("etl_postgres", "dagster_postgres")
#: Names of settings whose values are secrets.
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|WEBHOOK|API_KEY|PRIVATE_KEY", re.IGNORECASE)
#: A compose interpolation `${NAME}`, `${NAME:-default}`, `${NAME:?message}` (`$${...}` is an escaped `$`).
INTERPOLATION = re.compile(r"(?<!\$)\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
#: `scheme://user:password@` in any string.
URL_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]*:(?P<password>[^@]*)@", re.IGNORECASE)
#: What a real credential looks like: Slack tokens and webhooks, long random strings.
REAL_LOOKING_SECRET = re.compile(
    r"xox[abposr]-|xapp-|hooks\.slack\.com/services/|[A-Za-z0-9+/_=-]{24,}", re.IGNORECASE
)
PLACEHOLDERS = {"", "change-me"}
#: A setting the platform's code reads from the environment.
SETTING_NAME = re.compile(r"(ETL|SLACK)_[A-Z0-9_]+|DAGSTER_WEBSERVER_URL")


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict:
    return _yaml(COMPOSE_FILE)


@pytest.fixture(scope="module")
def launcher_config() -> dict:
    return _yaml(DEPLOY_INSTANCE)["run_launcher"]["config"]


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def _strings(node: Any) -> list[str]:
    """Every string scalar (keys and values) of a parsed YAML document."""
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in _strings(key) + _strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return [node] if isinstance(node, str) else []


def _is_secret_reference(value: str) -> bool:
    """The whole value is one `${NAME}` reference whose fallback, if any, is empty or an error message."""
    match = INTERPOLATION.fullmatch(value)
    return bool(match) and not (match["op"] in {"-", ":-"} and match["arg"])


def _mask_references(text: str) -> tuple[str, list[str]]:
    """`text` with its n-th `${...}` replaced by `<n>`, and the references replaced.

    Masked, a URL's user name whose default holds ':' is no longer taken for `user:password`.
    """
    references: list[str] = []

    def token(match: re.Match) -> str:
        references.append(match[0])
        return f"<{len(references) - 1}>"

    return INTERPOLATION.sub(token, text), references


def _env_file(path: Path) -> dict[str, str]:
    entries = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f"{path.name}: not NAME=value: {line!r}"
            entries[name.strip()] = value.strip()
    return entries


# --- the Dagster instance and workspace ---------------------------------------------------------------


def test_deploy_instance_equals_the_local_instance_except_the_run_launcher():
    local, deploy = _yaml(LOCAL_INSTANCE), _yaml(DEPLOY_INSTANCE)
    assert "run_launcher" not in local, "dagster.local.yaml must keep the default run launcher"
    assert "instance_class" not in local
    launcher = deploy.pop("run_launcher")
    instance_class = deploy.pop("instance_class")
    assert deploy == local, "deploy/dagster.yaml drifted from dagster.local.yaml: change both together"
    assert (launcher["module"], launcher["class"]) == ("etl_project.deployment", "PinnedDockerRunLauncher")
    assert (instance_class["module"], instance_class["class"]) == (
        "etl_project.deployment",
        "SelfCancellingInstance",
    )


def test_the_load_slots_the_sensor_plans_for_are_the_instance_limit():
    """batch_file_sensor splits a backlog to fill LOAD_RUNS_AT_ONCE slots; the coordinator's limit is the truth."""
    [limit] = [
        entry["limit"]
        for entry in _yaml(LOCAL_INSTANCE)["run_coordinator"]["config"]["tag_concurrency_limits"]
        if (entry["key"], entry.get("value")) == ("etl/workload", load_batches_job.tags["etl/workload"])
    ]
    assert limit == LOAD_RUNS_AT_ONCE, "change LOAD_RUNS_AT_ONCE (defs/ingestion/jobs.py) with the limit"


def test_workspace_points_at_the_code_server(compose):
    [entry] = _yaml(DEPLOY_WORKSPACE)["load_from"]
    grpc = entry["grpc_server"]
    command = compose["services"]["code_server"]["command"]
    assert grpc["host"] == "code_server"
    assert str(grpc["port"]) == command[command.index("-p") + 1]
    assert grpc["location_name"] == command[command.index("--location-name") + 1] == "etl_project"
    for service in ("webserver", "daemon"):
        assert "/opt/dagster/app/deploy/workspace.yaml" in compose["services"][service]["command"]


# --- docker-compose.yml -------------------------------------------------------------------------------


def test_services_exist_with_healthchecks_and_start_in_order(compose):
    services = compose["services"]
    for name in DAGSTER_SERVICES + DATABASE_SERVICES:
        assert name in services, f"service {name} is missing"
        assert services[name].get("healthcheck", {}).get("test"), f"service {name} has no healthcheck"
    for name in DAGSTER_SERVICES:
        depends_on = services[name]["depends_on"]
        assert depends_on["dagster_postgres"]["condition"] == "service_healthy", name
    for name in ("webserver", "daemon"):
        assert services[name]["depends_on"]["code_server"]["condition"] == "service_healthy", name


def test_no_secret_literal_in_compose_file(compose):
    for name, service in compose["services"].items():
        for key, value in _environment(service).items():
            if SECRET_NAME.search(key):
                assert _is_secret_reference(value), f"{name}.{key} must be a ${{...}} reference to .env"
    for text in _strings(compose):
        masked, references = _mask_references(text)
        for match in URL_CREDENTIALS.finditer(masked):
            token = re.fullmatch(r"<(\d+)>", match["password"])
            # The message names the URL's scheme only, so that a leaked password is not printed again.
            assert token and _is_secret_reference(references[int(token[1])]), (
                f"a {match[0].split('://')[0]}:// URL holds a password literal, not a ${{...}} reference"
            )


def test_only_loopback_ports_are_published_and_no_database_port(compose):
    for name, service in compose["services"].items():
        ports = service.get("ports", [])
        if name in DATABASE_SERVICES:
            assert not ports, f"{name} must not publish its port"
        for port in ports:
            host_ip = port.get("host_ip") if isinstance(port, dict) else str(port).split(":")[0]
            assert host_ip == "127.0.0.1", f"{name} publishes {port!r} beyond the loopback interface"


def test_ui_is_published_only_through_the_login_proxy(compose):
    """The webserver has no login: only the proxy (nginx, basic auth from .env) publishes a port."""
    services = compose["services"]
    assert {name for name, service in services.items() if service.get("ports")} == {"proxy"}
    proxy = services["proxy"]
    assert proxy["healthcheck"]["test"]
    assert proxy["depends_on"]["webserver"]["condition"] == "service_healthy"
    env = _environment(proxy)
    for name in ("DAGSTER_UI_USERNAME", "DAGSTER_UI_PASSWORD"):
        match = INTERPOLATION.fullmatch(env[name])
        assert match and match["name"] == name and match["op"] in {"?", ":?"}, (
            f"proxy.{name} must be required"
        )
    # Configuration from the repository, read only; no password in it (start.sh writes it at run time).
    assert "./deploy/proxy:/etc/nginx/etl:ro" in proxy["volumes"]
    conf = (PROJECT_ROOT / "deploy" / "proxy" / "nginx.conf").read_text(encoding="utf-8")
    webserver_command = services["webserver"]["command"]
    port = webserver_command[webserver_command.index("-p") + 1]
    assert f"set $webserver http://webserver:{port};" in conf and "proxy_pass $webserver;" in conf
    assert "auth_basic_user_file /tmp/htpasswd;" in conf
    [published] = proxy["ports"]
    assert published.endswith(":8080") and "listen 8080;" in conf


def test_dockerfile_defaults_to_the_official_python_image_and_keeps_pip_settings_out():
    """`make compose-e2e` builds on a stand-in through BASE_IMAGE; users get the official image. The pip
    settings a machine may need at build time are ARGs, never ENV (which would ship them in the image)."""
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "ARG BASE_IMAGE=python:3.11-slim-bookworm\nFROM ${BASE_IMAGE}\n" in dockerfile
    env_lines = [
        line for line in dockerfile.splitlines() if line.startswith("ENV") or line.startswith("    ")
    ]
    for setting in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CERT"):
        assert f"ARG {setting}\n" in dockerfile
        assert not any(setting + "=" in line for line in env_lines), f"{setting} must not be an ENV"


def test_run_launcher_names_match_compose(compose, launcher_config):
    """The launcher asks the Docker engine for the network and volumes by their engine-wide names."""
    network_names = {network.get("name") for network in compose["networks"].values()}
    assert launcher_config["network"] in network_names
    volume_names = {(volume or {}).get("name") for volume in compose["volumes"].values()}
    for mount in launcher_config["container_kwargs"]["volumes"]:
        assert mount.split(":")[0] in volume_names, f"run containers mount {mount}, unknown to compose"


def test_daemon_can_forward_every_launcher_variable(compose, launcher_config):
    """DockerRunLauncher refuses to launch a run when a variable it forwards is unset in the daemon."""
    daemon_env = _environment(compose["services"]["daemon"])
    missing = set(launcher_config["env_vars"]) - set(daemon_env)
    assert not missing, f"daemon lacks {sorted(missing)}"
    code_server_env = _environment(compose["services"]["code_server"])
    # Run workers load the same definitions as the code server: they must see the same settings, but for
    # where alerts go, which only the sensors (in the code server) read.
    assert {name for name in code_server_env if not name.startswith("SLACK_")} <= set(
        launcher_config["env_vars"]
    )


def _settings_read_by_the_code() -> set[str]:
    """Every string constant in the package that names a setting (the local-only `etl` CLI aside)."""
    names = set()
    for path in (PROJECT_ROOT / "etl_project").rglob("*.py"):
        if "cli" not in path.relative_to(PROJECT_ROOT / "etl_project").parts[:1]:
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    if SETTING_NAME.fullmatch(node.value):
                        names.add(node.value)
    return names


def test_every_setting_of_the_code_reaches_the_code_server_and_the_runs(compose, launcher_config):
    """A new setting must be added to docker-compose.yml and forwarded to run containers, or the
    deployment silently runs with its default."""
    settings = _settings_read_by_the_code()
    assert "ETL_DATABASE_URL" in settings and "SLACK_BOT_TOKEN" in settings  # the scan itself works
    code_server_env = set(_environment(compose["services"]["code_server"]))
    assert settings <= code_server_env, f"missing in docker-compose.yml: {sorted(settings - code_server_env)}"
    forwarded = set(launcher_config["env_vars"])
    run_settings = {name for name in settings if not name.startswith("SLACK_")}
    assert run_settings <= forwarded, (
        f"not forwarded to runs (deploy/dagster.yaml): {sorted(run_settings - forwarded)}"
    )


def _mount_targets(service: dict) -> set[str]:
    return {mount.split(":")[1] for mount in service.get("volumes", [])}


def test_volumes_are_mounted_where_the_processes_use_them(compose, launcher_config):
    services = compose["services"]
    run_targets = {mount.split(":")[1] for mount in launcher_config["container_kwargs"]["volumes"]}
    # The sensor (in the code server) lists the shared directory; runs load and generate files there.
    shared_dir = _environment(services["code_server"])["ETL_SHARED_DATA_DIR"]
    assert shared_dir in _mount_targets(services["code_server"]) & run_targets
    # Compute logs are written by runs (steps), the code server (sensors) and the daemon (backfills), and
    # read by the webserver: one volume for all, or the UI shows "log file not found".
    storage = "/opt/dagster/dagster_home/storage"
    for name in DAGSTER_SERVICES:
        assert storage in _mount_targets(services[name]), f"{name} does not mount {storage}"
    assert storage in run_targets


# --- .env.example -------------------------------------------------------------------------------------


def test_env_example_defines_every_required_variable_and_only_used_ones():
    references = list(INTERPOLATION.finditer(COMPOSE_FILE.read_text(encoding="utf-8")))
    required = {m["name"] for m in references if m["op"] in {"?", ":?"}}
    used = {m["name"] for m in references}
    defined = set(_env_file(ENV_EXAMPLE))
    assert required <= defined, f".env.example lacks {sorted(required - defined)}"
    assert defined <= used, f".env.example defines variables compose ignores: {sorted(defined - used)}"


def test_env_example_holds_placeholders_only():
    for name, value in _env_file(ENV_EXAMPLE).items():
        if SECRET_NAME.search(name):
            assert value in PLACEHOLDERS, f".env.example: {name} must be empty or change-me"
        assert not REAL_LOOKING_SECRET.search(value), f".env.example: {name} looks like a real secret"


def test_env_file_is_kept_out_of_git_and_the_image():
    ignored = subprocess.run(
        ["git", "check-ignore", "--quiet", "--no-index", ".env"], cwd=PROJECT_ROOT, check=False
    )
    assert ignored.returncode == 0, ".env must stay in .gitignore"
    dockerignore = (PROJECT_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert ".env" in dockerignore


# --- docker-compose itself ----------------------------------------------------------------------------


def _docker_compose(*args: str, env_file: Path) -> subprocess.CompletedProcess:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose); YAML checks still ran")
    # A bare environment: variables exported in the developer's shell would override the env file's.
    return subprocess.run(
        [binary, "-f", str(COMPOSE_FILE), "--env-file", str(env_file), *args],
        env={"PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_docker_compose_accepts_the_file_with_env_example():
    result = _docker_compose("config", "-q", env_file=ENV_EXAMPLE)
    assert result.returncode == 0, result.stderr


def test_docker_compose_refuses_to_start_without_passwords(tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("", encoding="utf-8")
    result = _docker_compose("config", "-q", env_file=empty)
    assert result.returncode != 0
    assert "PASSWORD" in result.stderr


def test_run_queue_tag_limits_match_tags_the_load_job_sets():
    """A limit on a tag no run carries limits nothing: each one must match the load job's tags."""
    from etl_project.defs.ingestion.jobs import load_batches_job

    limits = _yaml(LOCAL_INSTANCE)["run_coordinator"]["config"]["tag_concurrency_limits"]
    assert limits
    for limit in limits:
        assert load_batches_job.tags.get(limit["key"]) == limit["value"]


# --- who gets what (issue #25: the Docker socket, Slack settings, database roles, cross-site requests) ---


def _mounts_socket(service: dict) -> bool:
    return any("docker.sock" in str(mount) for mount in service.get("volumes", []))


def test_only_the_daemon_holds_the_docker_socket(compose, launcher_config):
    """Whoever can write to the socket is root on the host: the webserver (which faces users), the code
    server and the runs never get it."""
    services = compose["services"]
    holders = {
        name for name, service in services.items() if _mounts_socket(service) or service.get("group_add")
    }
    assert holders == {"daemon"}
    assert not any("docker.sock" in str(mount) for mount in launcher_config["container_kwargs"]["volumes"])


def test_slack_settings_reach_the_code_server_only(compose, launcher_config):
    """The sensors that send alerts are evaluated in the code server; runs, the daemon and the UI never
    need the token or the webhook."""
    holders = {
        name
        for name, service in compose["services"].items()
        if any(key.startswith("SLACK_") for key in _environment(service))
    }
    assert holders == {"code_server"}
    assert not [name for name in launcher_config["env_vars"] if name.startswith("SLACK_")]


def test_run_launcher_pins_what_a_run_container_is(compose, launcher_config):
    from etl_project.deployment import FORBIDDEN_CONTAINER_KWARGS, check_container_kwargs

    assert launcher_config["image"] == {"env": "DAGSTER_RUN_IMAGE"}
    for name in DAGSTER_SERVICES:
        assert (
            _environment(compose["services"][name])["DAGSTER_RUN_IMAGE"] == "${ETL_IMAGE:-etl_project:latest}"
        )
    assert "DAGSTER_RUN_IMAGE" in launcher_config["env_vars"]
    # No code location names an image of its own for the launcher to refuse.
    assert "DAGSTER_CURRENT_IMAGE" not in _environment(compose["services"]["code_server"])
    kwargs = launcher_config["container_kwargs"]
    assert not set(kwargs) & FORBIDDEN_CONTAINER_KWARGS
    check_container_kwargs(kwargs)  # named volumes only


def test_databases_are_initialised_with_roles_that_are_no_superusers(compose):
    """The image's bootstrap superuser is `postgres`, which no service logs in as; the init scripts create
    the services' roles (NOSUPERUSER) with the passwords from .env."""
    services = compose["services"]
    for name, script, role_variable in (
        ("etl_postgres", "etl-roles.sh", "ETL_LOADER_USER"),
        ("dagster_postgres", "dagster-role.sh", "DAGSTER_USER"),
    ):
        env = _environment(services[name])
        assert env["POSTGRES_USER"] == "postgres"
        assert INTERPOLATION.fullmatch(env["POSTGRES_PASSWORD"])["name"].endswith("_SUPERUSER_PASSWORD")
        assert (
            f"./deploy/postgres/{script}:/docker-entrypoint-initdb.d/{script}:ro" in services[name]["volumes"]
        )
        assert services[name]["depends_on"]["settings_check"]["condition"] == "service_completed_successfully"
        text = (PROJECT_ROOT / "deploy" / "postgres" / script).read_text(encoding="utf-8")
        assert text.count("NOSUPERUSER NOCREATEDB NOCREATEROLE") == text.count("CREATE ROLE") >= 1
        assert role_variable in text
    etl_env = _environment(services["etl_postgres"])
    assert etl_env["ETL_LOADER_USER"] == "${ETL_POSTGRES_USER:-etl}"
    code_server_env = _environment(services["code_server"])
    assert "://${ETL_POSTGRES_USER:-etl}:" in code_server_env["ETL_DATABASE_URL"]
    assert "://${DAGSTER_POSTGRES_USER:-dagster}:" in code_server_env["DAGSTER_POSTGRES_URL"]


def _run_settings_check(env: dict[str, str], compose: dict) -> subprocess.CompletedProcess:
    check_env = _environment(compose["services"]["settings_check"])
    return subprocess.run(
        ["sh", str(PROJECT_ROOT / "deploy" / "check-settings.sh")],
        env={
            "PATH": os.environ.get("PATH", ""),
            "SETTINGS_TO_CHECK": check_env["SETTINGS_TO_CHECK"],
            "URL_SAFE_SETTINGS": check_env["URL_SAFE_SETTINGS"],
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
    )


def test_settings_check_refuses_the_placeholders_of_env_example(compose):
    """Compose accepts `change-me` (it only knows set or unset): settings_check, which the databases wait
    for, refuses each placeholder by name."""
    check_env = _environment(compose["services"]["settings_check"])
    checked = set(check_env["SETTINGS_TO_CHECK"].split())
    passwords = {name for name in _env_file(ENV_EXAMPLE) if "PASSWORD" in name}
    assert checked == passwords, "every password of .env.example must be checked"
    assert set(check_env) >= checked | {"DOCKER_GID"}
    result = _run_settings_check(_env_file(ENV_EXAMPLE), compose)
    assert result.returncode != 0
    for name in sorted(checked) + ["DOCKER_GID"]:
        assert name in result.stderr
    real = {name: f"{name.lower().replace('_', '-')}-0123456789" for name in checked}
    assert _run_settings_check({**real, "DOCKER_GID": "999"}, compose).returncode == 0
    url_unsafe = {**real, "DOCKER_GID": "0", "ETL_POSTGRES_PASSWORD": "p@ss/word:1234"}
    refused = _run_settings_check(url_unsafe, compose)
    assert refused.returncode != 0 and "ETL_POSTGRES_PASSWORD must be URL-safe" in refused.stderr
    # The UI password is no URL: anything long enough goes.
    assert (
        _run_settings_check(
            {**real, "DOCKER_GID": "0", "DAGSTER_UI_PASSWORD": "a:b@c/d e!f#g"}, compose
        ).returncode
        == 0
    )


def test_proxy_refuses_cross_site_requests(compose):
    conf = (PROJECT_ROOT / "deploy" / "proxy" / "nginx.conf").read_text(encoding="utf-8")
    start = (PROJECT_ROOT / "deploy" / "proxy" / "start.sh").read_text(encoding="utf-8")
    assert "include /tmp/nginx-origin.conf;" in conf and "/tmp/nginx-origin.conf" in start
    location = conf[conf.index("location / {") :]
    for variable in (
        "$etl_foreign_host",
        "$etl_foreign_origin",
        "$etl_graphql_get",
        "$etl_graphql_simple_post",
    ):
        check = location.index(f"if ({variable}) {{")
        assert location.index("return 403", check) < location.index("}", check)
        assert check < location.index("auth_basic "), "checks come before the login"
    assert "DAGSTER_WEBSERVER_URL" in _environment(compose["services"]["proxy"])


def _proxy_origin_conf(tmp_path: Path, url: str) -> subprocess.CompletedProcess:
    """start.sh's DAGSTER_WEBSERVER_URL -> nginx maps part, run alone, writing to tmp_path."""
    start = (PROJECT_ROOT / "deploy" / "proxy" / "start.sh").read_text(encoding="utf-8")
    part = start[start.index("url=$(") : start.index("} > /tmp/nginx-origin.conf")] + "}\n"
    script = tmp_path / "origin.sh"
    script.write_text("set -eu\n" + part, encoding="utf-8")
    return subprocess.run(
        ["sh", str(script)],
        env={"PATH": os.environ.get("PATH", ""), "DAGSTER_WEBSERVER_URL": url},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("url", "host", "origin"),
    [
        ("http://127.0.0.1:3000", "127.0.0.1:3000", "http://127.0.0.1:3000"),
        ("https://Dagster.Example.com/", "dagster.example.com", "https://dagster.example.com"),
        ("https://dagster.example.com:443/ui", "dagster.example.com", "https://dagster.example.com"),
        ("http://[::1]:8080", "[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_proxy_derives_its_own_host_and_origin_from_the_ui_url(tmp_path, url, host, origin):
    result = _proxy_origin_conf(tmp_path, url)
    assert result.returncode == 0, result.stderr
    assert f'map $http_host $etl_foreign_host {{ default 1; "{host}" 0; }}' in result.stdout
    assert f'map $http_origin $etl_foreign_origin {{ default 1; "" 0; "{origin}" 0; }}' in result.stdout


@pytest.mark.parametrize("url", ["ftp://x", "http://a b", 'http://x";}', "http://x;y", "127.0.0.1:3000"])
def test_proxy_refuses_a_ui_url_it_cannot_put_into_nginx_safely(tmp_path, url):
    assert _proxy_origin_conf(tmp_path, url).returncode != 0
