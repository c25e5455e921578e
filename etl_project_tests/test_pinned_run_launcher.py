"""The Dagster instance of the docker-compose deployment (etl_project/deployment.py, deploy/dagster.yaml): the run
launcher alone decides what a run container is, whatever a run's stored origin asks for, and a run can be
terminated from a process without the Docker socket (the webserver). No Docker engine needed."""

import uuid
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus

from etl_project.deployment import PINNED_CONTAINER_KWARGS, PinnedDockerRunLauncher, SelfCancellingInstance
from etl_project.paths import PROJECT_ROOT

IMAGE = "etl_project:test"


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """deploy/dagster.yaml as it is, but SQLite storage instead of PostgreSQL."""
    config = yaml.safe_load((PROJECT_ROOT / "deploy" / "dagster.yaml").read_text(encoding="utf-8"))
    for storage in ("run_storage", "event_log_storage", "schedule_storage"):  # PostgreSQL's, pooled
        del config[storage]
    config["storage"] = {"sqlite": {"base_dir": str(tmp_path / "storage")}}
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    for name in config["run_launcher"]["config"]["env_vars"]:
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("DAGSTER_RUN_IMAGE", IMAGE)
    # No Docker engine: a socket that does not exist.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    with dg.DagsterInstance.from_config(str(tmp_path)) as inst:
        yield inst


def _origin(**repository: object) -> JobPythonOrigin:
    return JobPythonOrigin(
        job_name="load_batches_job",
        repository_origin=RepositoryPythonOrigin(
            executable_path="/usr/local/bin/python",
            code_pointer=_module_pointer(),
            **repository,
        ),
    )


def _module_pointer():
    from dagster._core.code_pointer import ModuleCodePointer

    return ModuleCodePointer("etl_project.definitions", "defs", None)


def test_the_deployment_instance_cancels_runs_from_inside_and_survives_a_round_trip(instance):
    assert isinstance(instance, SelfCancellingInstance)
    assert instance.should_start_background_run_thread  # run workers watch their own run's status
    # Run workers get the instance as a reference (in their command line): the class goes with it.
    with dg.DagsterInstance.from_ref(instance.get_ref()) as again:
        assert isinstance(again, SelfCancellingInstance)
        assert isinstance(again.run_launcher, PinnedDockerRunLauncher)


def test_the_launcher_runs_every_run_from_its_own_image_and_settings(instance):
    launcher = instance.run_launcher
    assert isinstance(launcher, PinnedDockerRunLauncher)
    assert launcher.image == IMAGE
    assert launcher._get_docker_image(_origin()) == IMAGE
    assert launcher._get_docker_image(_origin(container_image=IMAGE)) == IMAGE
    for key, value in PINNED_CONTAINER_KWARGS.items():
        assert launcher.container_kwargs[key] == value
    # A run whose origin carries container settings gets the launcher's (and is refused before launch).
    hostile = {
        "docker": {"container_kwargs": {"privileged": True, "volumes": ["/:/host"]}, "networks": ["host"]}
    }
    run = DagsterRun(
        job_name="load_batches_job",
        run_id=str(uuid.uuid4()),
        job_code_origin=_origin(container_context=hostile),
    )
    context = launcher.get_container_context(run)
    assert context.container_kwargs == launcher.container_kwargs
    assert list(context.networks) == ["etl_project"]
    assert "DAGSTER_POSTGRES_URL" in context.env_vars
    assert not [name for name in context.env_vars if name.startswith("SLACK_")]


@pytest.mark.parametrize(
    ("repository", "refusal"),
    [
        ({"container_image": "attacker/image:latest"}, "asks for image"),
        ({"entry_point": ["sh", "-c", "id"]}, "entry point"),
        ({"container_context": {"docker": {"container_kwargs": {"privileged": True}}}}, "container settings"),
        ({"container_context": {"env_vars": ["SLACK_BOT_TOKEN"]}}, "container settings"),
    ],
)
def test_a_run_whose_origin_asks_for_more_is_refused(instance, repository, refusal):
    with pytest.raises(ValueError, match=refusal):
        instance.run_launcher._get_docker_image(_origin(**repository))


@pytest.mark.parametrize(
    "container_kwargs",
    [
        {"privileged": True},
        {"cap_add": ["SYS_ADMIN"]},
        {"devices": ["/dev/sda:/dev/sda"]},
        {"pid_mode": "host"},
        {"network_mode": "host"},
        {"volumes": ["/:/host"]},
        {"volumes": ["/var/run/docker.sock:/var/run/docker.sock"]},
        {"volumes": ["./data:/data"]},
        {"volumes": {"/etc": {"bind": "/host-etc", "mode": "ro"}}},
        {"mounts": [{"Source": "/", "Target": "/host", "Type": "bind"}]},
    ],
)
def test_a_configuration_that_gives_runs_the_host_is_refused(container_kwargs):
    with pytest.raises(ValueError, match="must not get|named volumes only"):
        PinnedDockerRunLauncher(image=IMAGE, container_kwargs=container_kwargs)


def test_the_launcher_needs_an_image_of_its_own():
    with pytest.raises(ValueError, match="needs `image`"):
        PinnedDockerRunLauncher(container_kwargs={"volumes": ["etl_project_shared_data:/data"]})


def test_terminate_without_the_docker_socket_leaves_it_to_the_run_worker(instance):
    run = instance.add_run(
        DagsterRun(job_name="load_batches_job", run_id=str(uuid.uuid4()), status=DagsterRunStatus.STARTED)
    )
    assert instance.run_launcher.terminate(run.run_id)
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.CANCELING
    finished = instance.add_run(
        DagsterRun(job_name="load_batches_job", run_id=str(uuid.uuid4()), status=DagsterRunStatus.SUCCESS)
    )
    assert not instance.run_launcher.terminate(finished.run_id)
