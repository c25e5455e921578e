"""The Dagster instance of the docker-compose deployment (deploy/dagster.yaml), where the run launcher, not the
run, decides what a run container may be, and the Docker socket stays in the daemon.

`PinnedDockerRunLauncher`: dagster-docker's `DockerRunLauncher` takes a run's image and its container
arguments (`container_kwargs`: privileged mode, host mounts, devices...) from the run's stored origin, which
the code server reports and which anyone holding Dagster's database URL can write. A compromised code server
or run container could so have the daemon start a privileged container, which is root on the host. This
launcher starts every run from its own `image`, `network`, `env_vars` and `container_kwargs` only, refuses a
run whose origin asks for another image, another entry point or container settings, and refuses at start a configuration
that would make a run container privileged or mount a host path.

Terminating a run: only the daemon holds the Docker socket. In a process without it (the webserver, where
the UI's "Terminate" runs) `terminate` marks the run CANCELING and returns; `SelfCancellingInstance` makes
every run worker watch its own run's status (Dagster's run cancellation thread, every
`run_monitoring.cancellation_thread_poll_interval_seconds`, 10 s by default) and interrupt itself, as a
`docker stop` would. Where the socket is reachable (the daemon: a run over its maximum runtime) the
container is stopped as before.

dagster-docker is installed in the image (Dockerfile) and in the dev environment, not by the package itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster._check as check
from dagster import DagsterInstance
from dagster_docker import DockerRunLauncher

from etl_project.dagster_private import DEFAULT_DAGSTER_ENTRY_POINT, InstanceRef

#: container_kwargs a run container must never get: each one can give it the host (or its kernel).
FORBIDDEN_CONTAINER_KWARGS = frozenset(
    {
        "cap_add",
        "cgroup_parent",
        "device_cgroup_rules",
        "device_requests",
        "devices",
        "ipc_mode",
        "mounts",
        "network_mode",
        "pid_mode",
        "privileged",
        "security_opt",
        "sysctls",
        "userns_mode",
        "uts_mode",
        "volume_driver",
        "volumes_from",
        "user",
    }
)
#: Set by the launcher itself, whatever the configuration says.
PINNED_CONTAINER_KWARGS: Mapping[str, Any] = {
    "privileged": False,
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
}


def check_container_kwargs(container_kwargs: Mapping[str, Any]) -> None:
    """Refuse settings that would give a run container the host: forbidden keys and host-path volumes.

    Volumes must be named volumes (`name:/path[:mode]`), never a host path (`/...`, `./...`, `~...`).
    """
    forbidden = sorted(set(container_kwargs) & FORBIDDEN_CONTAINER_KWARGS)
    if forbidden:
        raise ValueError(
            f"run containers must not get {forbidden} (PinnedDockerRunLauncher container_kwargs)"
        )
    volumes = container_kwargs.get("volumes") or []
    if isinstance(volumes, Mapping):
        volumes = list(volumes)  # docker-py's {source: {"bind": ..., "mode": ...}} form: the keys are sources
    for volume in volumes:
        source = str(volume).split(":", 1)[0]
        if not source or source[0] in "/.~" or "/" in source:
            raise ValueError(f"run containers may mount named volumes only, not the host path in {volume!r}")


class PinnedDockerRunLauncher(DockerRunLauncher):
    """`DockerRunLauncher` whose own configuration alone decides what a run container is (module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if not self.image:
            raise ValueError("PinnedDockerRunLauncher needs `image`: it never takes one from a run's origin")
        check_container_kwargs(self.container_kwargs)
        self.container_kwargs = {**self.container_kwargs, **PINNED_CONTAINER_KWARGS}

    def get_container_context(self, dagster_run):  # noqa: ANN001 - signature of the base class
        # The launcher's own settings only: a run's origin may carry a container context (env_vars,
        # container_kwargs, networks), which DockerRunLauncher would merge over these.
        from dagster_docker.container_context import DockerContainerContext

        return DockerContainerContext(
            registry=self.registry,
            env_vars=self.env_vars,
            networks=self.networks,
            container_kwargs=self.container_kwargs,
        )

    def _get_docker_image(self, job_code_origin):  # noqa: ANN001 - signature of the base class
        repository_origin = job_code_origin.repository_origin
        asked = repository_origin.container_image
        if asked and asked != self.image:
            raise ValueError(
                f"run refused: its code location asks for image {asked!r}; run containers are started from "
                f"{self.image!r} only (run_launcher.config.image)"
            )
        entry_point = list(repository_origin.entry_point or DEFAULT_DAGSTER_ENTRY_POINT)
        if entry_point != DEFAULT_DAGSTER_ENTRY_POINT:
            raise ValueError(
                f"run refused: its code location asks for the entry point {entry_point!r}, not `dagster`"
            )
        if repository_origin.container_context:
            raise ValueError(
                "run refused: its code location asks for container settings "
                f"({sorted(repository_origin.container_context)}); run containers get the run launcher's only"
            )
        return self.image

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if not run or run.is_finished:
            return False
        import docker

        try:
            docker.client.from_env().ping()
        except docker.errors.DockerException:
            # No Docker socket here (the webserver): the run worker stops itself once it sees CANCELING.
            self._instance.report_run_canceling(
                run,
                message="Canceling run: its worker stops itself within seconds (it watches the run's status).",
            )
            return True
        return super().terminate(run_id)


class SelfCancellingInstance(DagsterInstance):
    """A Dagster instance whose run workers interrupt themselves when their run is marked CANCELING.

    Dagster's own run cancellation thread (dagster._core.execution.run_cancellation_thread), which the
    open-source instance leaves off: with it the UI can terminate a run without access to the Docker socket.
    Nothing else differs from `DagsterInstance`; the instance has no settings of its own.
    """

    @classmethod
    def config_schema(cls) -> dict:
        return {}

    @staticmethod
    def config_defaults(base_dir: str):  # noqa: ANN205 - InstanceRef's mapping of defaults
        return InstanceRef.config_defaults(check.str_param(base_dir, "base_dir"))

    @property
    def should_start_background_run_thread(self) -> bool:
        return True
