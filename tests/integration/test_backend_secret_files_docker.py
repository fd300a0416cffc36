"""A backend's `secretFiles` on a real dockerd: `backend-secrets-<backend>` writes the files
(under a scratch root standing for the box's /), and a container created with the program's own
mount and environment (recorded under mocks) reads the value as a non-root user through
`$TOKEN_FILE`, sees a rotated value without being re-created, and has no value in
`docker inspect`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from components.config import parse
from components.render.box import backend_secrets
from tests.harness import SECRETS, run_stack
from tests.integration.docker_env import docker

pytestmark = pytest.mark.integration

VALUE, ROTATED = "file-secret-3a9d-not-in-env", "rotated-secret-77e1"


def import_cat_image(sock: Path, tag: str = "wpfleet-test/cat:1") -> str:
    """An image holding `cat` and the libraries it links, nothing else (no registry here)."""
    libs = [ln.split("=>")[-1].split()[0] for ln in subprocess.run(
        ["ldd", "/bin/cat"], capture_output=True, text=True, check=True, timeout=30).stdout.splitlines()
        if "/" in ln]
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o755)  # the image's / (mkdtemp makes it 0700: uid 1000 could not exec)
        for path in ["/bin/cat", *libs]:
            dest = Path(d) / path.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, dest)
        tar = subprocess.run(["tar", "-C", d, "-c", "."], capture_output=True, check=True,
                             timeout=60).stdout
    subprocess.run(["docker", "-H", f"unix://{sock}", "import", "-", tag], input=tar,
                   capture_output=True, check=True, timeout=60)
    return tag


def test_a_non_root_container_reads_its_secret_file_and_never_holds_the_value(
        dockerd: Path, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the script sets owners (root): run as root")
    cfg = {"box": {"host": "local"}, "acme": {"email": "a@example.org"}, "sites": [],
           "backends": [{"name": "node", "domain": "node.example.org", "image": "node:22.1.0",
                         "port": 8180, "secretFiles": ["TOKEN"]}]}
    b = parse(json.loads(json.dumps(cfg))).backends[0]
    graph = run_stack(cfg, {**SECRETS, "backendSecrets": json.dumps({"node": {"TOKEN": VALUE}})})
    container = graph.get("node-container", "docker:index/container:Container").inputs
    stdin = graph.get("backend-secrets-node").inputs["stdin"]
    cmd = backend_secrets.secrets_command(b)
    env = {**os.environ, "WPFLEET_ROOT": str(tmp_path)}
    done = subprocess.run(["bash", "-c", cmd.create], input=stdin, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (mount,) = container["volumes"]
    assert mount["readOnly"] is True
    host_dir = str(tmp_path) + mount["hostPath"]  # the box's path under the scratch root
    image = import_cat_image(dockerd)
    args = ["create", "--name", "wpfleet-node", "--user", "1000:1000", "--network", "none",
            "-v", f"{host_dir}:{mount['containerPath']}:ro"]
    for e in container["envs"]:
        args += ["-e", e]
    docker(dockerd, *args, image, "/bin/cat", "/run/secrets/TOKEN")
    inspect = docker(dockerd, "inspect", "wpfleet-node").stdout
    assert VALUE not in inspect and "TOKEN_FILE=/run/secrets/TOKEN" in inspect
    started = docker(dockerd, "start", "-a", "wpfleet-node", check=False)
    assert started.returncode == 0, started.stderr + started.stdout
    assert docker(dockerd, "logs", "wpfleet-node").stdout == VALUE  # uid 1000 read it
    # a rotation rewrites the file by a rename in the mounted directory: the same container sees it
    rotated = backend_secrets.stdin_text(b, {"TOKEN": ROTATED})
    done = subprocess.run(["bash", "-c", cmd.update or cmd.create], input=rotated, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    docker(dockerd, "start", "-a", "wpfleet-node")
    assert docker(dockerd, "logs", "wpfleet-node").stdout == VALUE + ROTATED
    # nobody but root gets to the file on the box: the parent directory is 0700 root
    top = tmp_path / backend_secrets.TOP.lstrip("/")
    assert oct(top.stat().st_mode & 0o777) == "0o700" and top.stat().st_uid == 0
    docker(dockerd, "rm", "-f", "wpfleet-node")
