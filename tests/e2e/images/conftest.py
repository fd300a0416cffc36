"""Fixtures of the stand-in images' tests: one private dockerd holding the images, and one
site replayed on it from the program's own recorded inputs (mocks), shared by the session.

The site ("blog", two replicas): its networks, volumes, environment, mounts, health checks,
stop timeouts exactly as declared; only the health checks' interval is shortened. Its secret
files are written first by its own `site-secrets-blog` command, from the stdin the program
gives it. The tests then run wpfleet's own rendered scripts against it (stand_ins.py).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from components.config import parse
from components.render.wordpress import secrets, tools
from tests.e2e.images import stand_ins
from tests.e2e.images.docker_api import DockerApi, create_container, wait_healthy
from tests.e2e.images.stand_ins import NETNS, SMTP_PASSWORD, storage_driver
from tests.harness import BASE_CONFIG, SECRETS, run_stack
from tests.integration import docker_env


@pytest.fixture(scope="session")
def daemon() -> Iterator[dict[str, Any]]:
    """A private dockerd holding the stand-in images (built or found in the cache)."""
    missing = stand_ins.missing_tools() or docker_env.missing_tools()
    if missing:
        pytest.skip(missing)
    cache_dir, missing = stand_ins.build_images()
    if cache_dir is None:
        pytest.skip(missing)
    with docker_env.private_dockerd(NETNS, storage=storage_driver()) as sock:
        subprocess.run(["ip", "-n", NETNS, "link", "set", "lo", "up"], check=True, timeout=30)
        start = time.monotonic()
        first = stand_ins.load_images(cache_dir, sock)
        loaded = time.monotonic() - start
        env = {**os.environ, "DOCKER_HOST": f"unix://{sock}"}
        yield {"sock": sock, "cache": cache_dir, "api": DockerApi(sock), "env": env,
               "first_load": first, "load_seconds": loaded}
        for c in DockerApi(sock).call("GET", "/containers/json?all=1"):  # else dockerd waits
            DockerApi(sock).call("DELETE", f"/containers/{c['Id']}?force=1")


@pytest.fixture(scope="session")
def site(daemon: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Site "blog" as the program declares it: files, networks, volumes, DB, two replicas."""
    config = copy.deepcopy(BASE_CONFIG)
    config["sites"] = [{**config["sites"][0], "php": {"uploadMaxMb": 16},
                        # no egress here: WordPress would wait on api.wordpress.org in WP-Cron
                        "wpConfig": {"WP_HTTP_BLOCK_EXTERNAL": True},
                        # an SMTP user: its password is one of the secret files (nothing
                        # listens on that port: a mail would fail at once)
                        "smtp": {"host": "127.0.0.1", "port": 2525, "user": "wp@example.org",
                                 "from": "blog@example.org", "tls": False}}]
    stack = parse(copy.deepcopy(config))
    blog = stack.sites[0]
    graph = run_stack(config, {**SECRETS, "smtpPassword": json.dumps({"blog": SMTP_PASSWORD})})
    root = tmp_path_factory.mktemp("box")
    env = {**daemon["env"], "WPFLEET_ROOT": str(root)}
    for cmd, stdin in ((tools.tools_command(), ""), (tools.site_command(blog), ""),
                       (secrets.secrets_command(blog),
                        graph.get("site-secrets-blog").inputs["stdin"])):
        done = subprocess.run(["bash", "-c", cmd.create], env=env, capture_output=True,
                              text=True, timeout=60, input=stdin)
        assert done.returncode == 0, done.stderr
    api = daemon["api"]
    for net in graph.of_type("docker:index/network:Network"):
        api.call("POST", "/networks/create", {"Name": net.inputs["name"], "Driver": "bridge",
                                              "Internal": net.inputs["internal"]})
    for vol in graph.of_type("docker:index/volume:Volume"):
        api.call("POST", "/volumes/create", {"Name": vol.inputs["name"]})
    # the site's own name resolves on its web network, as on a real box (here to a container
    # that listens nowhere): WordPress's requests to itself (HTTPS detection in WP-Cron, the
    # permalink test of the install) are refused at once instead of waiting on resolvers this
    # namespace cannot reach (10 s per lookup)
    api.call("POST", "/containers/create?name=blog-name", {
        "Image": blog.mariadb_image, "Entrypoint": ["sleep", "infinity"],
        "HostConfig": {"NetworkMode": "wpfleet-blog-web"}, "NetworkingConfig": {"EndpointsConfig": {
            "wpfleet-blog-web": {"Aliases": list(blog.domains)}}}})
    api.call("POST", "/containers/blog-name/start")
    timings = {}
    for name, image in (("blog-db", blog.mariadb_image), ("blog-wp-0", blog.wordpress_image),
                        ("blog-wp-1", blog.wordpress_image)):
        inputs = graph.get(name).inputs
        create_container(api, inputs, image, root, health_interval="1s")
        timings[name] = wait_healthy(api, inputs["name"], float(inputs["waitTimeout"]))
    return {"stack": stack, "site": blog, "graph": graph, "root": root, "env": env,
            "api": api, "timings": timings}
