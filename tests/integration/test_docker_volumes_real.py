"""What a replaced data volume would do on a real Docker engine (issue 20 item 9, docs/operations.md).

The program keeps every input of a site's volumes stable (tests/components/
test_volume_stability.py) and marks them `retain_on_delete` rather than `protect`. The reason
given in docs/operations.md rests on Docker's own behaviour, checked here: should the engine
ever replace a volume, the replacement's create (same Docker name, other labels) gets the
existing volume back with its data, and the skipped delete leaves it in place.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness import BASE_CONFIG, run_stack
from tests.integration.docker_env import docker

pytestmark = pytest.mark.integration


def create_args(inputs: dict) -> list[str]:
    """`docker volume create` as the provider calls it (name, driver options, labels)."""
    args = ["volume", "create"]
    for lbl in inputs.get("labels", []):
        args += ["--label", f"{lbl['label']}={lbl['value']}"]
    for key, value in inputs.get("driverOpts", {}).items():
        args += ["--opt", f"{key}={value}"]
    return [*args, inputs["name"]]


def test_creating_a_volume_again_returns_the_existing_one_with_its_data(dockerd: Path) -> None:
    volumes = [r.inputs for r in run_stack(BASE_CONFIG).of_type("docker:index/volume:Volume")]
    db = next(v for v in volumes if v["name"] == "wpfleet-blog-db")
    docker(dockerd, *create_args(db))
    shown = json.loads(docker(dockerd, "volume", "inspect", db["name"]).stdout)[0]
    assert shown["Labels"] == {lbl["label"]: lbl["value"] for lbl in db["labels"]}
    (Path(shown["Mountpoint"]) / "ibdata1").write_bytes(b"the site's database")

    changed = {**db, "labels": [{"label": "org.wpfleet.role", "value": "changed"},
                                {"label": "extra", "value": "1"}]}
    docker(dockerd, *create_args(changed))  # what a replacement's create would send
    again = json.loads(docker(dockerd, "volume", "inspect", db["name"]).stdout)[0]
    assert again["Mountpoint"] == shown["Mountpoint"]
    assert again["Labels"] == shown["Labels"]  # unchanged: the existing volume came back
    assert (Path(again["Mountpoint"]) / "ibdata1").read_bytes() == b"the site's database"
