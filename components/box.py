"""The connection to the box: its Docker daemon and a factory for commands run on it as root."""

from __future__ import annotations

import base64
import hashlib
import os
import pwd
import re
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from components.local_docker import local_docker_problem
from components.render import BoxCommand, as_root, owned

LOCAL_DOCKER = "unix:///var/run/docker.sock"
# Where the system ssh client finds what the Docker provider needs. Kept as "~/..." (ssh expands
# it) so the provider's state names no path of this clone: `destroy`/`refresh` work from another
# clone of the project on the same machine (elsewhere, `--run-program` writes the files first).
KEY_DIR = "~/.wpfleet"
# box-docker-access prints this; it changes whenever box.user is (re-)added to the docker group
ACCESS_STAMP_RE = re.compile(r"docker-access-stamp=([0-9a-z]{1,24})")
# box-docker-access prints whether the box's Docker enforces swap limits (`docker info`)
SWAP_LIMIT_RE = re.compile(r"docker-swap-limit=(\w+)")


def docker_ssh_opts(known_hosts: str, key_file: str | None, stamp: str = "0") -> list[str]:
    """Options for the system `ssh` the Docker provider runs for ssh:// hosts.

    The connection is multiplexed so Docker's many short sessions do not trip sshd's
    MaxStartups; only the pinned host key is accepted; with a key file, only that key is
    offered (no agent needed). A multiplexed session keeps the groups of the login that opened
    the master, so the ControlPath carries the docker-access stamp: after box-docker-access
    (re-)adds the user to the docker group, a master opened before cannot be reused.
    """
    opts = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=15",
            "-o", "ControlMaster=auto", "-o", "ControlPersist=120",
            "-o", f"ControlPath=~/.ssh/wpfleet-%C-{stamp}",
            "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known_hosts}"]
    if key_file is not None:
        opts += ["-o", "IdentitiesOnly=yes", "-i", key_file]
    return opts


def access_stamp(access_stdout: str | None) -> str:
    """The docker-access stamp box-docker-access printed ("0" before the first run)."""
    found = ACCESS_STAMP_RE.search(access_stdout or "")
    return found.group(1) if found else "0"


def swap_limit(access_stdout: str | None) -> bool:
    """Whether the box's Docker enforces swap limits; yes unless it said false."""
    found = SWAP_LIMIT_RE.search(access_stdout or "")
    return not (found and found.group(1) == "false")


def memory_swap(memory_mb: int, enforced: bool) -> int:
    """The container's memory_swap: equal to memory (no swap; a later raise is accepted).

    A daemon without swap accounting stores -1 whatever it is sent and reads it back so: sent
    anything else, the provider would show an update at every `up` (issue 20 item 6).
    """
    return memory_mb if enforced else -1


def key_problem(private_key: str) -> str | None:
    """Why neither connection can use this private key, or None.

    Passphrase-protected keys are refused: the Docker provider's ssh runs with BatchMode (no
    prompt, and no agent is used), so only an unencrypted key file works for both connections.
    """
    text = private_key.strip()
    if "ENCRYPTED" in text.split("\n", 2)[0] or "Proc-Type: 4,ENCRYPTED" in text:
        return "is protected by a passphrase"
    if text.startswith("-----BEGIN OPENSSH PRIVATE KEY-----"):
        body = "".join(ln for ln in text.splitlines()[1:] if not ln.startswith("-----"))
        try:
            blob = base64.b64decode(body + "=" * (-len(body) % 4))
        except ValueError:
            return None  # not ours to judge: ssh reports an unreadable key itself
        magic = b"openssh-key-v1\0"
        if not blob.startswith(magic) or len(blob) < len(magic) + 4:
            return None
        size = int.from_bytes(blob[len(magic):len(magic) + 4], "big")
        cipher = blob[len(magic) + 4:len(magic) + 4 + size]
        if cipher != b"none":
            return "is protected by a passphrase"
    return None


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (in a 0700 directory), replacing it atomically."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text if text.endswith("\n") else text + "\n")
    os.replace(tmp, path)


def docker_ssh_url(user: str, host: str, port: int) -> str:
    """The Docker provider's `ssh://` host; an IPv6 address is bracketed (RFC 3986), or the URL
    is invalid. The command connection takes the bare address (it joins host and port itself)."""
    return f"ssh://{user}@{f'[{host}]' if ':' in host else host}:{port}"


def known_hosts_line(host: str, port: int, host_key: str) -> str:
    target = host if port == 22 else f"[{host}]:{port}"
    return f"{target} {host_key}\n"


# Set by the render (components/render/resource_plan/dump.py) to its throwaway directory: the
# program it runs under mocks then writes its key files there, never over the real ones.
SANDBOX_HOME_ENV = "WPFLEET_RENDER_SANDBOX"


def ssh_home() -> Path:
    """The home directory ssh expands "~" to: the passwd entry's, not $HOME (as OpenSSH does);
    inside the render's sandbox, the sandbox."""
    sandbox = os.environ.get(SANDBOX_HOME_ENV)
    return Path(sandbox) if sandbox else Path(pwd.getpwuid(os.getuid()).pw_dir)


def expand(path: str) -> Path:
    return ssh_home() / path[2:] if path.startswith("~/") else Path(path)


class BoxError(pulumi.RunError):
    """A problem with the box connection that the user fixes: shown without a traceback."""


@dataclass(frozen=True, kw_only=True)
class BoxArgs:
    host: str  # hostname/IP, or "local" when pulumi runs on the box itself
    port: int = 22  # SSH port
    user: str = "root"  # root or a passwordless-sudo user
    host_key: str | None = None  # pinned SSH host key ("ssh-ed25519 AAAA..."); required unless local
    private_key: pulumi.Input[str] | None = None  # secret; required unless local
    # where the pinned host key and the private key are written for the system ssh client
    # that the Docker provider runs (it cannot take key material itself); "~" is expanded
    local_dir: str = KEY_DIR
    # prefix of every command resource name (and image pull) on this box: "" for the box
    # `default`, "web2-" for the box web2, so two boxes never register the same name
    name_prefix: str = ""
    # the prefix the box's resources had before it was renamed (`boxes.NAME.renamedFrom`):
    # each resource named with `name_prefix` gets an alias to its old name, so the rename
    # creates and deletes nothing (docs/operations.md, Renaming a box)
    renamed_from_prefix: str | None = None

    def __post_init__(self) -> None:
        if self.host != "local" and self.private_key is None:
            raise ValueError(f"BoxArgs.private_key is required for host {self.host!r}")
        if self.host != "local" and self.host_key is None:
            raise ValueError(f"BoxArgs.host_key is required for host {self.host!r}: both "
                             "connections verify the box's host key")


class Box(pulumi.ComponentResource):
    """Owns the Docker provider and the command connection; others get both from here.

    The Docker provider is created by `open_docker(access, preflight)`, after the preflight command
    exists, and depends on it: every network, volume, image and container uses this provider,
    so none is created (and the provider never pings a daemon) before the preflight passed.
    """

    docker_host: str

    def __init__(self, name: str, args: BoxArgs, opts: pulumi.ResourceOptions | None = None):
        self.name_prefix = args.name_prefix
        self.renamed_from_prefix = args.renamed_from_prefix
        super().__init__("wpfleet:index:Box", name, None,
                         pulumi.ResourceOptions.merge(opts, self.renamed(name)))
        self._name = name
        self._args = args
        self._provider: docker.Provider | None = None
        self._swap_limit: pulumi.Output[bool] | None = None
        self.local = args.host == "local"
        self.docker_host = LOCAL_DOCKER if self.local else docker_ssh_url(args.user, args.host,
                                                                          args.port)
        self.connection = None if self.local else command.remote.ConnectionArgs(
            host=args.host, port=args.port, user=args.user,
            private_key=args.private_key, host_key=args.host_key,
            dial_error_limit=5, per_dial_timeout=15)
        self.register_outputs({"dockerHost": self.docker_host})

    def aliases(self, name: str) -> list[pulumi.Alias]:
        """The old name of a resource NAME (prefixed) of this box, when the box was renamed.

        Only the name changes: a child's URN holds its parents' types, not their names, so the
        same parent type with an alias of the name alone finds the old resource.
        """
        old = self.renamed_from_prefix
        if old is None:
            return []
        if not name.startswith(self.name_prefix):  # a programming error
            raise AssertionError(f"{name!r} does not carry the box's prefix {self.name_prefix!r}")
        return [pulumi.Alias(name=old + name[len(self.name_prefix):])]

    def renamed(self, name: str) -> pulumi.ResourceOptions | None:
        """Options carrying `aliases(name)`, or None (no option at all) for a box never renamed."""
        aliases = self.aliases(name)
        return pulumi.ResourceOptions(aliases=list(aliases)) if aliases else None

    @property
    def provider(self) -> docker.Provider:
        if self._provider is None:  # a programming error: the wiring order is wrong
            raise AssertionError("Box.provider is used before Box.open_docker(access, preflight)")
        return self._provider

    def open_docker(self, access: pulumi.Resource, preflight: pulumi.Resource) -> docker.Provider:
        """The Docker provider, gated on the preflight; its settings from box-docker-access.

        Only `access` (whose inputs are the connection settings) feeds the provider's inputs:
        were they to wait on a command that changes with the sites, `preview` would show them
        unknown after adding a site, and with them every Docker resource as an update.
        """
        stdout: pulumi.Output[str] = getattr(access, "stdout", pulumi.Output.from_input(""))
        self._swap_limit = stdout.apply(swap_limit)
        host: pulumi.Input[str] = self.docker_host
        ssh_opts: pulumi.Input[list[str]] | None = None
        if self.local:
            user = os.environ.get("USER", "this user")
            host = stdout.apply(lambda _: self._local_host(user))
        else:
            # the options wait for the key file, written when the secret resolves
            key: pulumi.Input[str] = self._args.private_key or ""  # __post_init__ ensured it
            ssh_opts = pulumi.Output.all(key, stdout).apply(
                lambda kv: self._docker_ssh_opts(kv[0], access_stamp(kv[1])))
        self._provider = docker.Provider(
            f"{self._name}-docker", host=host, ssh_opts=ssh_opts,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[access, preflight],
                                        aliases=self.aliases(f"{self._name}-docker") or None))
        return self._provider

    def memory_swap(self, memory_mb: int) -> pulumi.Output[int]:
        """A container's memory_swap for this box's Docker (see `memory_swap`)."""
        if self._swap_limit is None:
            raise AssertionError("Box.memory_swap is used before Box.open_docker(access, preflight)")
        return self._swap_limit.apply(lambda enforced: memory_swap(memory_mb, enforced))

    def _local_host(self, user: str) -> str:
        problem = local_docker_problem(user)
        if problem is not None:
            raise BoxError(problem)
        return LOCAL_DOCKER

    def _tag(self) -> str:
        a = self._args
        return hashlib.sha256(f"{a.user}@{a.host}:{a.port}".encode()).hexdigest()[:12]

    def _docker_ssh_opts(self, private_key: str, stamp: str) -> list[str]:
        problem = key_problem(private_key)
        if problem is not None:
            raise BoxError(f"wpfleet:sshPrivateKey {problem}: neither the commands nor the "
                           "Docker provider's ssh (BatchMode, no agent) can use it; set an "
                           "unencrypted key made for wpfleet (ssh-keygen -t ed25519 -N '')")
        key_file = f"{self._args.local_dir}/id-{self._tag()}"
        write_private(expand(key_file), private_key)
        (ssh_home() / ".ssh").mkdir(mode=0o700, exist_ok=True)  # holds the ControlPath socket
        return docker_ssh_opts(self._known_hosts_file(), key_file, stamp)

    def _known_hosts_file(self) -> str:
        """Write the pinned host key where the ssh client (used by Docker) can check it."""
        a = self._args
        assert a.host_key is not None  # __post_init__ ensured it for remote boxes
        path = f"{a.local_dir}/known_hosts-{self._tag()}"
        line = known_hosts_line(a.host, a.port, a.host_key)
        real = expand(path)
        if not real.exists() or real.read_text() != line:
            write_private(real, line)
        return path

    def run(self, spec: BoxCommand, parent: pulumi.Resource,
            depends_on: list[pulumi.Resource] | None = None,
            stdin: pulumi.Input[str] | None = None) -> pulumi.CustomResource:
        """One command resource for a rendered box script, run as root on the box.

        Its delete undoes only what it still owns (`owned`: a renamed box, site or backend
        registers new resources that write the same things before the old ones are deleted).
        """
        name = self.name_prefix + spec.name
        spec = owned(spec, name)
        # local mode: pulumi runs on the box, as root or as a user with passwordless sudo
        sudo = os.geteuid() != 0 if self.local else self._args.user != "root"
        create = as_root(spec.create, sudo)
        update = as_root(spec.update, sudo) if spec.update is not None else create
        delete = as_root(spec.delete, sudo) if spec.delete is not None else None
        triggers = list(spec.triggers) or None
        opts = pulumi.ResourceOptions(parent=parent, depends_on=depends_on or [],
                                      aliases=self.aliases(name) or None)
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
