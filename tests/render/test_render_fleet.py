"""The render CLI on a `wpfleet:boxes` stack: OUT/<box>/ per box, each with only its own hosts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.fleet_configs import SITES_ON, fleet_config
from tests.render.test_render_cli import render

SECURE = {"secure": "AAABACiphertext"}


def stack_file(tmp_path: Path, config: dict[str, Any], **secrets: Any) -> Path:
    values = {f"wpfleet:{k}": v for k, v in config.items()}
    values.update({f"wpfleet:{k}": v for k, v in secrets.items()})
    path = tmp_path / "Pulumi.fleet.yaml"
    path.write_text(yaml.safe_dump({"config": values}, sort_keys=False))
    return path


def fleet_secrets() -> dict[str, Any]:
    return {"sshPrivateKey": SECURE, "sshPrivateKeys": {"web2": SECURE},
            "duckdnsToken": SECURE, "backendSecrets": {"node": {"API_KEY": SECURE}}}


def test_each_box_gets_its_own_directory_with_only_its_hosts(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = render(stack_file(tmp_path, fleet_config(), **fleet_secrets()), out)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["default", "web2", "web3"]
    owner = {s: b for b, names in SITES_ON.items() for s in names} | {"api": "web2", "node": "web3"}
    for box in ("default", "web2", "web3"):
        confs = sorted(p.name for p in (out / box / "etc/apache2/sites-available").iterdir())
        # every box has its own catch-all vhost (unknown Host/SNI -> 421) beside its hosts
        assert confs == sorted(["wpfleet-000-default.conf",
                                *(f"wpfleet-{n}.conf" for n, b in owner.items() if b == box)])
        assert (out / box / "commands/box-preflight.sh").is_file()
        assert (out / box / "commands/apache-install.sh").is_file()
        plan = "\n".join(line for line in (out / box / "plan/resources.yaml").read_text().splitlines()
                         if not line.lstrip().startswith("#"))  # scripts' usage examples name blog
        for name, b in owner.items():
            assert (f"{name}.example.org" in plan) == (b == box), (box, name)
        sites = sorted(p.stem for p in (out / box / "plan/sites").iterdir())
        assert sites == sorted(SITES_ON[box])
    assert (out / "web2/commands/box-duckdns.sh").is_file()
    assert not (out / "default/commands/box-duckdns.sh").exists()
    assert "8443" in (out / "web3/etc/apache2/ports.conf").read_text()  # web3's own Apache ports
    assert "8443" not in (out / "default/etc/apache2/ports.conf").read_text()
    # the plan names each box's resources as `up` registers them (prefixed past `default`)
    assert "name: web2-apache-install" in (out / "web2/plan/resources.yaml").read_text()
    assert "name: apache-install" in (out / "default/plan/resources.yaml").read_text()


def test_a_box_without_any_ssh_key_is_refused_with_its_name(tmp_path: Path) -> None:
    secrets = fleet_secrets()
    del secrets["sshPrivateKey"]  # web2 has its own; default and web3 have none
    done = render(stack_file(tmp_path, fleet_config(), **secrets), tmp_path / "out")
    assert done.returncode == 1
    assert "wpfleet:sshPrivateKeys.default: is required by box default" in done.stderr
    assert "wpfleet:sshPrivateKeys.web3: is required by box web3" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "out").exists()


def test_a_bad_box_reference_names_its_line(tmp_path: Path) -> None:
    cfg = fleet_config()
    cfg["sites"][2]["box"] = "web9"
    done = render(stack_file(tmp_path, cfg, **fleet_secrets()), tmp_path / "out")
    assert done.returncode == 1 and "wpfleet:sites[2].box: 'web9' names no box" in done.stderr


def test_per_box_keys_set_as_one_encrypted_map_render(tmp_path: Path) -> None:
    secrets = fleet_secrets()
    del secrets["sshPrivateKey"]
    secrets["sshPrivateKeys"] = SECURE  # `pulumi config set --secret wpfleet:sshPrivateKeys '{…}'`
    done = render(stack_file(tmp_path, fleet_config(), **secrets), tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert "<secret>" in (tmp_path / "out/web3/plan/resources.yaml").read_text()


def test_a_plaintext_key_beside_encrypted_ones_is_refused_at_its_line(tmp_path: Path) -> None:
    secrets = fleet_secrets()
    secrets["sshPrivateKeys"] = {"web2": SECURE, "web3": "-----BEGIN PLAIN KEY-----"}
    done = render(stack_file(tmp_path, fleet_config(), **secrets), tmp_path / "out")
    assert done.returncode == 1
    assert "wpfleet:sshPrivateKeys.web3: is stored in plaintext beside encrypted values" in done.stderr
    assert "PLAIN KEY" not in done.stderr
