"""The connection to the box: its Docker daemon and a factory for commands run on it as root."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from components.render import BoxCommand, as_root

LOCAL_DOCKER = "unix:///var/run/docker.sock"


def docker_ssh_opts(known_hosts: str | None, key_file: str | None) -> list[str]:
    """Options for the system `ssh` the Docker provider runs for ssh:// hosts.

    The connection is multiplexed so Docker's many short sessions do not trip sshd's
    MaxStartups; with a pinned host key only that key is accepted; with a key file, only that
    key is offered (no agent needed).
    """
    opts = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=15",
            "-o", "ControlMaster=auto", "-o", "ControlPersist=120",
            "-o", "ControlPath=~/.ssh/wpfleet-%C"]
    if known_hosts is not None:
        opts += ["-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known_hosts}"]
    if key_file is not None:
        opts += ["-o", "IdentitiesOnly=yes", "-i", key_file]
    return opts


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (in a 0700 directory), replacing it atomically."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text if text.endswith("\n") else text + "\n")
    os.replace(tmp, path)


def known_hosts_line(host: str, port: int, host_key: str) -> str:
    target = host if port == 22 else f"[{host}]:{port}"
    return f"{target} {host_key}\n"


@dataclass(frozen=True, kw_only=True)
class BoxArgs:
    host: str  # hostname/IP, or "local" when pulumi runs on the box itself
    port: int = 22  # SSH port
    user: str = "root"  # root or a passwordless-sudo user
    host_key: str | None = None  # pinned SSH host key ("ssh-ed25519 AAAA...")
    private_key: pulumi.Input[str] | None = None  # secret; required unless local
    # where the pinned host key and the private key are written for the system ssh client
    # that the Docker provider runs (it cannot take key material itself)
    local_dir: str = ".wpfleet"
    # prefix of every command resource name (and image pull) on this box: "" for the box
    # `default`, "web2-" for the box web2, so two boxes never register the same name
    name_prefix: str = ""

    def __post_init__(self) -> None:
        if self.host != "local" and self.private_key is None:
            raise ValueError(f"BoxArgs.private_key is required for host {self.host!r}")


class Box(pulumi.ComponentResource):
    """Owns the Docker provider and the command connection; others get both from here."""

    provider: docker.Provider
    docker_host: str

    def __init__(self, name: str, args: BoxArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("wpfleet:index:Box", name, None, opts)
        self._args = args
        self.name_prefix = args.name_prefix
        self.local = args.host == "local"
        if self.local:
            self.docker_host = LOCAL_DOCKER
            ssh_opts: pulumi.Input[list[str]] | None = None
        else:
            self.docker_host = f"ssh://{args.user}@{args.host}:{args.port}"
            # the options wait for the key file, written when the secret resolves
            key: pulumi.Input[str] = args.private_key or ""  # __post_init__ ensured it is set
            ssh_opts = pulumi.Output.from_input(key).apply(self._docker_ssh_opts)
        self.provider = docker.Provider(
            f"{name}-docker", host=self.docker_host, ssh_opts=ssh_opts,
            opts=pulumi.ResourceOptions(parent=self))
        self.connection = None if self.local else command.remote.ConnectionArgs(
            host=args.host, port=args.port, user=args.user,
            private_key=args.private_key, host_key=args.host_key,
            dial_error_limit=5, per_dial_timeout=15)
        self.register_outputs({"dockerHost": self.docker_host})

    def _tag(self) -> str:
        a = self._args
        return hashlib.sha256(f"{a.user}@{a.host}:{a.port}".encode()).hexdigest()[:12]

    def _docker_ssh_opts(self, private_key: str) -> list[str]:
        key_file = (Path(self._args.local_dir) / f"id-{self._tag()}").resolve()
        write_private(key_file, private_key)
        (Path.home() / ".ssh").mkdir(mode=0o700, exist_ok=True)  # holds the ControlPath socket
        return docker_ssh_opts(self._known_hosts_file(), str(key_file))

    def _known_hosts_file(self) -> str | None:
        """Write the pinned host key where the ssh client (used by Docker) can check it."""
        a = self._args
        if a.host_key is None:
            return None
        path = (Path(a.local_dir) / f"known_hosts-{self._tag()}").resolve()
        line = known_hosts_line(a.host, a.port, a.host_key)
        if not path.exists() or path.read_text() != line:
            write_private(path, line)
        return str(path)

    def run(self, spec: BoxCommand, parent: pulumi.Resource,
            depends_on: list[pulumi.Resource] | None = None,
            stdin: pulumi.Input[str] | None = None) -> pulumi.CustomResource:
        """One command resource for a rendered box script, run as root on the box."""
        # local mode: pulumi runs on the box, as root or as a user with passwordless sudo
        sudo = os.geteuid() != 0 if self.local else self._args.user != "root"
        create = as_root(spec.create, sudo)
        update = as_root(spec.update, sudo) if spec.update is not None else create
        delete = as_root(spec.delete, sudo) if spec.delete is not None else None
        triggers = list(spec.triggers) or None
        opts = pulumi.ResourceOptions(parent=parent, depends_on=depends_on or [])
        name = self.name_prefix + spec.name
        # add_previous_output_in_env=False: the previous stdout/stderr would be sent as
        # PULUMI_COMMAND_* env vars, which a stock sshd refuses (a warning on every update)
        if self.local:
            return command.local.Command(
                name, create=create, update=update, delete=delete, stdin=stdin,
                triggers=triggers, interpreter=["/bin/sh", "-c"],
                add_previous_output_in_env=False, opts=opts)
        return command.remote.Command(
            name, connection=self.connection, create=create, update=update,
            delete=delete, stdin=stdin, triggers=triggers, add_previous_output_in_env=False,
            opts=opts)
