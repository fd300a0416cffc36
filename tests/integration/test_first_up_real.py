"""The first `up` on a fresh box, for real: a non-root box.user, a real sshd, a private dockerd.

The Docker provider runs `ssh USER@box -- docker system dial-stdio` without sudo, and the
daemon's socket is root:docker 0660. box-docker-access (run as root, like Box.run does) must put
the user in the docker group and box-preflight prove `docker version` works *as that user*; the provider's
ssh must then not reuse a multiplexing master that logged in before the group change (its
sessions keep the old groups): the ControlPath carries box-docker-access's stamp.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from components import local_docker
from components.box import access_stamp, docker_ssh_opts, write_private
from components.config import parse
from components.render.box.preflight import docker_access, preflight
from tests.harness import HOST_KEY
from tests.integration.docker_env import dockerd  # noqa: F401 (fixture)
from tests.integration.sshd_env import SshdEnv, require_ssh

pytestmark = pytest.mark.integration
PORT = 22224  # not the other sshd tests' ports: they may run in one session
PING = "GET /_ping HTTP/1.0\r\n\r\n"
# what `docker system dial-stdio` says when the socket refuses the user
DENIED = b"docker.sock: connect: permission denied"


def make_user(tag: str) -> Iterator[str]:
    name = f"wpft{tag}{os.getpid() % 100000}"
    # "-p *": no password, but not a locked account (sshd refuses those even for keys)
    subprocess.run(["useradd", "-M", "-d", "/nonexistent", "-s", "/bin/bash", "-p", "*", name], check=True,
                   timeout=30)
    try:
        yield name
    finally:
        # -f: even if an ssh session of the user is still closing
        subprocess.run(["userdel", "-f", name], check=False, capture_output=True, timeout=30)


@pytest.fixture
def deploy_user() -> Iterator[str]:
    yield from make_user("d")


@pytest.fixture
def local_user() -> Iterator[str]:
    yield from make_user("l")


@pytest.fixture
def box(tmp_path: Path, dockerd: Path) -> Iterator[tuple[SshdEnv, Path]]:  # noqa: F811
    require_ssh()
    if shutil.which("runuser") is None or shutil.which("usermod") is None:
        pytest.skip("runuser/usermod missing: apt-get install util-linux passwd")
    assert (os.stat(dockerd).st_mode & 0o777) == 0o660  # root:docker 0660, as on a real box
    dockerd.parent.chmod(0o711)  # the socket's directory: traversable, like /run
    # sshd reads a user's authorized keys as that user: the test dir (0700) is out of reach
    keys = Path(tempfile.mkdtemp(prefix="wpf-ak-", dir="/tmp"))
    keys.chmod(0o755)
    with SshdEnv(tmp_path, port=PORT) as env:
        shutil.copy(f"{env.key}.pub", keys / "authorized_keys")
        (keys / "authorized_keys").chmod(0o644)
        # drop-ins come first and sshd keeps the first value: this one wins
        (env.drop_in_dir / "10-test-keys.conf").write_text(f"AuthorizedKeysFile {keys}/authorized_keys\n")
        env.write_config(set_env={"DOCKER_HOST": f"unix://{dockerd}",
                                  "WPFLEET_ETC": str(tmp_path / "etc-wpfleet")})
        env.start()
        try:
            yield env, dockerd
        finally:
            shutil.rmtree(keys, ignore_errors=True)


def control_opts(env: SshdEnv, tmp_path: Path, stamp: str, cm: Path) -> list[str]:
    """Box's ssh options, with the key files and the ControlPath under short test paths."""
    key, known = tmp_path / "wpf" / "id", tmp_path / "wpf" / "known_hosts"
    write_private(key, env.key.read_text())
    write_private(known, env.known_hosts.read_text())
    return [o.replace("~/.ssh/", f"{cm}/") for o in docker_ssh_opts(str(known), str(key), stamp)]


def dial(env: SshdEnv, user: str, opts: list[str]) -> bytes:
    """One Docker API ping over `ssh ... docker system dial-stdio`, as the provider does it."""
    argv = ["ssh", *opts, "-p", str(env.port), f"{user}@127.0.0.1", "--", "docker", "system",
            "dial-stdio"]
    done = subprocess.run(argv, input=PING.encode(), capture_output=True, timeout=60)
    return done.stdout + done.stderr


def open_master(env: SshdEnv, user: str, opts: list[str]) -> None:
    done = subprocess.run(["ssh", *opts, "-p", str(env.port), f"{user}@127.0.0.1", "true"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def stop_master(env: SshdEnv, user: str, opts: list[str]) -> None:
    subprocess.run(["ssh", *opts, "-O", "exit", "-p", str(env.port), f"{user}@127.0.0.1"],
                   capture_output=True, timeout=30, check=False)


def test_preflight_gives_a_non_root_user_docker_and_a_fresh_control_path(
        box: tuple[SshdEnv, Path], deploy_user: str, tmp_path: Path) -> None:
    env, _ = box
    user = deploy_user
    cm = Path(tempfile.mkdtemp(prefix="wpf-cm-", dir="/tmp"))  # unix socket paths are short
    before = control_opts(env, tmp_path, "0", cm)
    after = before
    try:
        # control: the user logs in, but the socket refuses it (not in the docker group)
        assert DENIED in dial(env, user, before)
        # a multiplexing master opened now keeps these groups for every later session
        open_master(env, user, before)

        stack = parse({"box": {"host": "127.0.0.1", "port": PORT, "user": user,
                               "hostKey": HOST_KEY, "minFreeDiskMb": 0}})
        etc = tmp_path / "etc-wpfleet"
        etc.mkdir(mode=0o755)  # an older wpfleet left it world-readable
        etc.chmod(0o755)
        first = env.run_script(docker_access(stack).create)
        assert first.returncode == 0, first.stderr
        assert f"added {user} to the docker group" in first.stdout
        checked = env.run_script(preflight(stack).create)  # runuser: the user reaches Docker
        assert checked.returncode == 0, checked.stderr
        stamp = access_stamp(first.stdout)
        assert stamp != "0"
        # what the real daemon says of swap accounting (Box sets memory_swap from it)
        assert re.search(r"^docker-swap-limit=(true|false)$", first.stdout, re.M), first.stdout
        assert etc.stat().st_mode & 0o777 == 0o700

        # the old master still serves sessions with the old groups: Docker refuses them
        assert DENIED in dial(env, user, before)
        # the provider's options after this preflight name another ControlPath: a new login
        after = control_opts(env, tmp_path, stamp, cm)
        assert after != before
        reply = dial(env, user, after)
        assert reply.startswith(b"HTTP/1.0 200 OK"), reply[-500:]

        again = env.run_script(docker_access(stack).create)
        assert again.returncode == 0, again.stderr
        assert "added" not in again.stdout and access_stamp(again.stdout) == stamp
    finally:
        stop_master(env, user, before)
        stop_master(env, user, after)
        shutil.rmtree(cm, ignore_errors=True)


def test_local_mode_preflight_grants_the_sudo_user(dockerd: Path, local_user: str,  # noqa: F811
                                                   tmp_path: Path) -> None:
    # local mode as a non-root user: Box.run wraps the script in `sudo -n`, which sets SUDO_USER
    dockerd.parent.chmod(0o711)
    stack = parse({"box": {"host": "local", "minFreeDiskMb": 0}})
    script = docker_access(stack).create
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DOCKER_HOST": f"unix://{dockerd}",
           "SUDO_USER": local_user, "WPFLEET_ETC": str(tmp_path / "etc"),
           "SUDO_COMMAND": "/usr/bin/bash -c " + script}  # what `sudo -n bash -c` sets
    as_user = ["runuser", "-u", local_user, "--", "docker", "-H", f"unix://{dockerd}", "version"]
    assert subprocess.run(as_user, capture_output=True, timeout=60).returncode != 0  # control
    # the check Box makes in the pulumi process (whose groups the Docker provider inherits),
    # run as that user: a stdlib-only module, copied where the user can read it
    lib = Path(tempfile.mkdtemp(prefix="wpf-chk-", dir="/tmp"))
    lib.chmod(0o755)
    (lib / "components").mkdir(mode=0o755)
    shutil.copy(Path(local_docker.__file__), lib / "components" / "local_docker.py")
    (lib / "components" / "local_docker.py").chmod(0o644)
    probe = ["runuser", "-u", local_user, "--", "/usr/bin/python3", "-c",
             f"import sys; sys.path.insert(0, {str(lib)!r}); from components.local_docker import "
             f"local_docker_problem as p; print(p('{local_user}', {str(dockerd)!r}))"]
    try:
        before = subprocess.run(probe, capture_output=True, text=True, timeout=60)
        assert "log in again (or run `newgrp docker`)" in before.stdout, before.stderr
        # `sudo pulumi up`: the provider runs as root; the invoking user gets nothing
        outer = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                               env={**env, "SUDO_COMMAND": "/usr/local/bin/pulumi up"},
                               timeout=120)
        assert outer.returncode == 0 and "added" not in outer.stdout, outer.stderr
        done = subprocess.run(["bash", "-c", script], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert f"added {local_user} to the docker group" in done.stdout
        assert subprocess.run(as_user, capture_output=True, timeout=60).returncode == 0
        check = preflight(stack).create  # checks Docker as that user too (runuser)
        checked = subprocess.run(["bash", "-c", check], capture_output=True, text=True,
                                 env={**env, "SUDO_COMMAND": "/usr/bin/bash -c " + check},
                                 timeout=120)
        assert checked.returncode == 0, checked.stderr
        # a session that starts after the change (a new login) passes the check
        assert subprocess.run(probe, capture_output=True, text=True, timeout=60).stdout \
            .strip() == "None"
    finally:
        shutil.rmtree(lib, ignore_errors=True)


def test_preflight_refuses_a_site_port_held_by_another_program(dockerd: Path,  # noqa: F811
                                                                tmp_path: Path) -> None:
    stack = parse({"box": {"host": "local", "minFreeDiskMb": 0}, "acme": {"email": "a@example.org"},
                   "sites": [{"name": "blog", "domain": "blog.example.org", "port": 27811,
                              "replicas": 2, "tls": False}]})
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DOCKER_HOST": f"unix://{dockerd}",
           "WPFLEET_ETC": str(tmp_path / "etc")}
    script = preflight(stack).create
    free = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                          timeout=120)
    assert free.returncode == 0, free.stderr
    with socket.socket() as squatter:  # some other program on replica 1's port
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", 27812))
        squatter.listen(1)
        held = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                              timeout=120)
    assert held.returncode == 1
    assert "port 27812 (wpfleet:sites[0].port+1, for wpfleet-blog-wp-1) is used by python" \
        in held.stderr, held.stderr


def sleep_image(sock: Path) -> str:
    """An image whose container stays up (sleep + the libraries it needs): ports get published."""
    with tempfile.TemporaryDirectory() as d:
        for f in ("/usr/bin/sleep", "/lib/x86_64-linux-gnu/libc.so.6",
                  "/lib64/ld-linux-x86-64.so.2"):
            dst = Path(d) / f.lstrip("/")
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, dst)
        tar = subprocess.run(["tar", "-C", d, "-c", "."], capture_output=True, check=True,
                             timeout=60).stdout
    subprocess.run(["docker", "-H", f"unix://{sock}", "import", "-", "wpfleet-test/sleep:1"],
                   input=tar, capture_output=True, check=True, timeout=60)
    return "wpfleet-test/sleep:1"


def test_preflight_accepts_ports_held_by_our_own_containers_only(dockerd: Path,  # noqa: F811
                                                                  tmp_path: Path) -> None:
    """A second `up`: replica 0 already publishes its port (ours, fine); another container
    holds replica 1's port (not ours: refused, naming it)."""
    netns = f"/run/netns/wpf-test-dk{os.getpid()}"  # docker_env's namespace: the proxies live there
    subprocess.run(["nsenter", f"--net={netns}", "ip", "link", "set", "lo", "up"], check=True,
                   timeout=30)
    image = sleep_image(dockerd)
    dk = ["docker", "-H", f"unix://{dockerd}"]
    subprocess.run([*dk, "network", "create", "wpf-t-web"], check=True, capture_output=True,
                   timeout=60)
    for name, port in (("wpfleet-blog-wp-0", 27811), ("someone-else", 27812)):
        subprocess.run([*dk, "run", "-d", "--name", name, "--network", "wpf-t-web",
                        "-p", f"127.0.0.1:{port}:80", image, "/usr/bin/sleep", "300"],
                       check=True, capture_output=True, timeout=120)
    stack = parse({"box": {"host": "local", "minFreeDiskMb": 0}, "acme": {"email": "a@example.org"},
                   "sites": [{"name": "blog", "domain": "blog.example.org", "port": 27811,
                              "replicas": 2, "tls": False}]})
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DOCKER_HOST": f"unix://{dockerd}",
           "WPFLEET_ETC": str(tmp_path / "etc")}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["nsenter", f"--net={netns}", "bash", "-c", preflight(stack).create],
                              env=env, capture_output=True, text=True, timeout=120)

    held = run()
    assert held.returncode == 1
    assert "port 27812 (wpfleet:sites[0].port+1, for wpfleet-blog-wp-1) is published by the " \
        "container someone-else" in held.stderr, held.stderr
    assert "27811" not in held.stderr  # replica 0's own container holds it
    subprocess.run([*dk, "rm", "-f", "someone-else"], check=True, capture_output=True, timeout=60)
    done = run()
    assert done.returncode == 0, done.stderr
    subprocess.run([*dk, "rm", "-f", "wpfleet-blog-wp-0"], capture_output=True, timeout=60)
