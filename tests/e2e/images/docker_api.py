"""A Docker daemon's Engine API over its unix socket, for the stand-in images' tests.

A container is created from the program's recorded inputs the way the Docker provider creates
it (exec-form health check, stop timeout, memory, restart policy, binds, port bindings,
networks with aliases), which `docker run` flags cannot all express.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.parse
from pathlib import Path
from typing import Any

from components import go_duration

API = "/v1.41"  # Docker 20.10 (Debian's docker.io)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("docker", timeout=timeout)
        self.path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class DockerApi:
    def __init__(self, sock: Path) -> None:
        self.sock = sock

    def call(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201, 204),
             timeout: float = 120) -> Any:
        conn = _UnixConnection(self.sock, timeout)
        payload = None if body is None else json.dumps(body)
        conn.request(method, API + path, body=payload, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        conn.close()
        assert response.status in ok, f"{method} {path}: {response.status} {data[:2000]!r}"
        return json.loads(data) if data.strip() else None

    def inspect(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", f"/containers/{name}/json")
        return result


def create_container(api: DockerApi, inputs: dict[str, Any], image: str, root: Path,
                     health_interval: str | None = None) -> None:
    """Create and start a container from a docker.Container's recorded inputs.

    root: where the rendered box files were written (host paths are root + hostPath).
    health_interval: replaces the declared interval (the test command stays the program's).
    """
    nets = inputs.get("networksAdvanced", [])
    binds = [f"{v['volumeName']}:{v['containerPath']}" if "volumeName" in v
             else f"{root}{v['hostPath']}:{v['containerPath']}" + (":ro" if v.get("readOnly") else "")
             for v in inputs.get("volumes", [])]
    ports = {f"{int(p['internal'])}/{p.get('protocol', 'tcp')}": [
        {"HostIp": p.get("ip", ""), "HostPort": str(int(p["external"]))}] for p in inputs.get("ports", [])}
    hc = inputs["healthcheck"]
    mb = 1024 * 1024
    body: dict[str, Any] = {
        "Image": image, "Env": inputs.get("envs", []),
        "Labels": {x["label"]: x["value"] for x in inputs.get("labels", [])},
        "ExposedPorts": {p: {} for p in ports},
        "Healthcheck": {"Test": hc["tests"], "Retries": int(hc["retries"]),
                        "Interval": go_duration.parse(health_interval or hc["interval"]),
                        "Timeout": go_duration.parse(hc["timeout"]),
                        "StartPeriod": go_duration.parse(hc["startPeriod"])},
        "HostConfig": {
            "Binds": binds, "PortBindings": ports, "NetworkMode": nets[0]["name"],
            "RestartPolicy": {"Name": inputs.get("restart", "no")},
            "Memory": int(inputs["memory"]) * mb, "MemorySwap": int(inputs["memorySwap"]) * mb},
        "NetworkingConfig": {"EndpointsConfig": {
            nets[0]["name"]: {"Aliases": nets[0].get("aliases", [])}}},
    }
    if "stopTimeout" in inputs:
        body["StopTimeout"] = int(inputs["stopTimeout"])
    name = inputs["name"]
    api.call("POST", f"/containers/create?name={urllib.parse.quote(name)}", body)
    for net in nets[1:]:
        api.call("POST", f"/networks/{net['name']}/connect",
                 {"Container": name, "EndpointConfig": {"Aliases": net.get("aliases", [])}})
    api.call("POST", f"/containers/{name}/start")


def wait_healthy(api: DockerApi, name: str, timeout: float) -> float:
    """Seconds until the container's health check passes; fails on exit or unhealthy."""
    start = time.monotonic()
    while True:
        state = api.inspect(name)["State"]
        status = state.get("Health", {}).get("Status")
        if status == "healthy":
            return time.monotonic() - start
        assert state["Running"] and status != "unhealthy", (name, state)
        assert time.monotonic() - start < timeout, f"{name} not healthy after {timeout} s: {state}"
        time.sleep(0.5)
