"""A backend API run by wpfleet as a container on 127.0.0.1:port (e.g. an Express app on 8180).

Apache reaches it as `http://127.0.0.1:<port>` (the backend's derived upstream); the port is
published on loopback only, because Docker's published ports bypass ufw. It restarts like the
WordPress containers (`unless-stopped`), so it comes back after a crash, a Docker restart or
a reboot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_docker as docker

from components.box import Box
from components.config import BackendConfig
from components.config.secrets import backend_secret_values, secret_env_values
from components.render.box import backend_secrets


def plain_env(backend: BackendConfig) -> list[str]:
    return [f"{k}={v}" for k, v in backend.env]


def labels(backend: BackendConfig) -> list[docker.ContainerLabelArgs]:
    return [docker.ContainerLabelArgs(label="org.wpfleet.backend", value=backend.name),
            docker.ContainerLabelArgs(label="org.wpfleet.role", value="backend")]


@dataclass(frozen=True, kw_only=True)
class BackendServiceArgs:
    backend: BackendConfig  # validated backend entry with `image` and `port`
    box: Box  # Docker provider of the box
    image: pulumi.Resource  # the shared RemoteImage of backend.image: the container waits for it
    secret_env: pulumi.Output[Any] | None = None  # wpfleet:backendSecrets (secret Output): the
    # values of the backend's secretEnv and secretFiles
    after: list[pulumi.Resource] | None = None  # e.g. the box preflight

    def __post_init__(self) -> None:
        if self.backend.image is None or self.backend.port is None:
            raise ValueError(f"BackendServiceArgs.backend: {self.backend.name!r} has no "
                             "image and port; only backends with an image run as containers")
        if self.backend.secret_names and self.secret_env is None:
            raise ValueError(f"BackendServiceArgs.secret_env is required: backend "
                             f"{self.backend.name!r} lists secretEnv/secretFiles "
                             f"{list(self.backend.secret_names)}")


class BackendService(pulumi.ComponentResource):
    container_name: str
    url: str  # where Apache (and only the box itself) reaches the backend

    def __init__(self, name: str, args: BackendServiceArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("wpfleet:index:BackendService", name, None, opts)
        b = args.backend
        assert b.port is not None  # checked in BackendServiceArgs
        envs: pulumi.Input[list[str]] = plain_env(b) + backend_secrets.env(b)
        if b.secret_env and args.secret_env is not None:
            # the whole list becomes secret: plain and secret values travel together
            envs = pulumi.Output.secret(args.secret_env.apply(
                lambda s: plain_env(b) + backend_secrets.env(b) + secret_env_values(b, s)))
        volumes: list[docker.ContainerVolumeArgs] = []
        after: list[pulumi.Resource] = list(args.after or [])
        if b.secret_files and args.secret_env is not None:
            # secretFiles: files on the box, mounted read-only; the container gets paths only
            self.secrets = args.box.run(
                backend_secrets.secrets_command(b), parent=self, depends_on=list(after),
                stdin=pulumi.Output.secret(args.secret_env.apply(  # type: ignore[arg-type]
                    lambda s: backend_secrets.stdin_text(b, backend_secret_values(b, s)))))
            volumes.append(docker.ContainerVolumeArgs(
                host_path=backend_secrets.box_dir(b), container_path=backend_secrets.IN_CONTAINER,
                read_only=True))
            after.append(self.secrets)
        self.container_name = f"wpfleet-{b.name}"
        self.container = docker.Container(
            # the configured reference, not the pulled ID: a tag pulled again on the box never
            # replaces the container; a new reference in the config does (images.py)
            f"{name}-container", name=self.container_name, image=b.image,
            restart="unless-stopped", must_run=False, envs=envs, memory=b.memory_mb, labels=labels(b),
            volumes=volumes or None,
            destroy_grace_seconds=10,  # SIGTERM first on replace/remove, not SIGKILL
            # = memory: Docker's 2x default refuses a later raise (-1 where swap is not limited)
            memory_swap=args.box.memory_swap(b.memory_mb),
            ports=[docker.ContainerPortArgs(internal=b.container_port or b.port,
                                            external=b.port, ip="127.0.0.1", protocol="tcp")],
            # a fixed container name and host port: the old container must go first
            opts=pulumi.ResourceOptions(parent=self, provider=args.box.provider,
                                        delete_before_replace=True,
                                        depends_on=[*after, args.image]))
        self.url = f"http://127.0.0.1:{b.port}"
        self.register_outputs({"containerName": self.container_name, "url": self.url})
