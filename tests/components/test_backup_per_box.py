"""Backups per box under mocks: each box its own Backup, repository and password; SFTP keys as an output."""

from __future__ import annotations

import copy
import json
from typing import Any

import pulumi
import pytest

from components.backup import public_key
from components.render.backup.sftp import PUBLIC_KEY_LINE
from tests.components.legacy_graph import snapshot
from tests.fleet_configs import fleet_config, fleet_secrets
from tests.harness import BASE_CONFIG, SECRETS, FakeCloud, Graph, run_stack

REMOTE = "command:remote:Command"
SHARED_PW = "restic-shared-pw-0a61"
WEB2_PW = "restic-web2-pw-93fe"
TARGET_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITargetHostKey"
WEB2_REPO = "sftp://web2@nas.example.org:23//srv/restic/web2"
PUBLIC = {"box1": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBoxOneKey wpfleet-backup@box1",
          "box2": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBoxTwoKey wpfleet-backup@box2"}


def per_box_config() -> dict[str, Any]:
    cfg = fleet_config()
    cfg["backup"] = {"repository": "/mnt/backup/restic", "keepDaily": 14}
    cfg["boxes"]["web2"]["backup"] = {"repository": WEB2_REPO, "sftpHostKey": TARGET_KEY}
    cfg["boxes"]["web3"]["backup"] = {"enabled": False}
    return cfg


def per_box_secrets() -> dict[str, str]:
    return {**fleet_secrets(), "resticPassword": SHARED_PW,
            "resticPasswords": json.dumps({"web2": WEB2_PW})}


class InstallPrintsKey(FakeCloud):
    """backup-install's stdout as the real script ends it: the box's public key last."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        rid, state = super().new_resource(args)
        if args.name.endswith("backup-install"):
            host = "box2" if args.name.startswith("web2-") else "box1"  # the connection is secret
            state["stdout"] = (f"backup-install: no change\n"
                               f"backup-install: {PUBLIC_KEY_LINE}{PUBLIC[host]}\n")
        return rid, state


@pytest.fixture(scope="module")
def graph() -> Graph:
    return run_stack(per_box_config(), per_box_secrets(), cloud=InstallPrintsKey())


def test_each_box_with_backups_has_its_own_backup_with_its_repository(graph: Graph) -> None:
    components = sorted(r.name for r in graph.of_type("wpfleet:index:Backup"))
    assert components == ["backup", "web2-backup"]  # web3: enabled: false
    default = graph.get("backup-install", REMOTE)
    web2 = graph.get("web2-backup-install", REMOTE)
    assert default.inputs["connection"]["host"] == "box1.example.org"
    assert web2.inputs["connection"]["host"] == "box2.example.org"
    assert "export RESTIC_REPOSITORY=/mnt/backup/restic" in default.inputs["create"]
    assert WEB2_REPO not in default.inputs["create"]
    assert f"export RESTIC_REPOSITORY={WEB2_REPO}" in web2.inputs["create"]
    # both keep the stack-wide retention
    for rec in (default, web2):
        assert "--keep-daily 14" in rec.inputs["create"]
    # each box backs up its own sites only
    sites = {r.name for r in graph.resources if "backup-site-" in r.name}
    assert sites == {"backup-site-blog", "backup-site-shop", "backup-site-news",
                     "web2-backup-site-wiki", "web2-backup-site-forum"}


def test_each_box_gets_its_own_password_on_stdin_as_a_secret(graph: Graph) -> None:
    default = graph.get("backup-install", REMOTE)
    web2 = graph.get("web2-backup-install", REMOTE)
    assert default.inputs["stdin"] == f"{SHARED_PW}\n"
    assert web2.inputs["stdin"] == f"{WEB2_PW}\n"
    assert {"stdin"} <= default.secret_inputs and {"stdin"} <= web2.secret_inputs
    text = graph.plain_text()
    assert SHARED_PW not in text and WEB2_PW not in text


def test_only_the_sftp_box_gets_the_key_wiring_and_its_public_key_is_an_output(graph: Graph) -> None:
    web2 = graph.get("web2-backup-install", REMOTE).inputs["create"]
    default = graph.get("backup-install", REMOTE).inputs["create"]
    assert "ssh-keygen -q -t ed25519" in web2 and "wpfleet-restic" in web2
    assert f"wpfleet-backup-target {TARGET_KEY}" in web2
    assert "ssh-keygen" not in default and "wpfleet-restic" not in default
    # the key web2 printed; box default uses a local repository: no key
    assert graph.outputs["backupSshKeys"] == {"web2": PUBLIC["box2"]}
    assert "backupSshKey" not in graph.outputs["boxes"]["web2"]


def test_a_box_s_backup_settings_change_nothing_on_the_other_boxes(graph: Graph) -> None:
    cfg = per_box_config()
    cfg["boxes"]["web2"]["backup"]["repository"] = "sftp://web2@nas2.example.org:23//srv/r"
    cfg["boxes"]["web3"]["backup"] = {"repository": "/srv/restic-web3"}
    other = run_stack(cfg, per_box_secrets(), cloud=InstallPrintsKey())
    before = {r.urn: r.inputs for r in graph.resources}
    after = {r.urn: r.inputs for r in other.resources}
    changed = {u.rsplit("::", 1)[1] for u in before.keys() & after.keys() if before[u] != after[u]}
    added = {u.rsplit("::", 1)[1] for u in after.keys() - before.keys()}
    assert changed == {"web2-backup-install"}
    assert added == {"web3-backup", "web3-backup-install", "web3-backup-site-docs",
                     "web3-backup-site-cafe"}
    assert not before.keys() - after.keys()


def test_a_single_box_stack_opts_in_with_sftp_host_key_and_gets_its_key_as_default() -> None:
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["backup"] = {"repository": "sftp://backup@nas.example.org:22//srv/restic/blog",
                     "sftpHostKey": TARGET_KEY}
    cfg["box"]["host"] = "box1.example.org"
    g = run_stack(cfg, {**SECRETS, "resticPassword": SHARED_PW}, cloud=InstallPrintsKey())
    assert g.outputs["backupSshKeys"] == {"default": PUBLIC["box1"]}
    # without sftpHostKey: no new output (a wpfleet:box stack's outputs stay as they were)
    del cfg["backup"]["sftpHostKey"]
    g = run_stack(cfg, {**SECRETS, "resticPassword": SHARED_PW}, cloud=InstallPrintsKey())
    assert "backupSshKeys" not in g.outputs
    assert sorted(g.outputs) == ["adminPasswords", "adminUsers", "backends", "dockerHost",
                                 "images", "sites"]


def test_a_box_without_its_password_or_the_shared_one_stops_up_by_name() -> None:
    from components.config import ConfigError

    secrets = {**fleet_secrets(), "resticPasswords": json.dumps({"web2": WEB2_PW})}
    with pytest.raises(ConfigError, match=r"wpfleet:resticPasswords\.default: is required by the "
                                          r"backups of box default"):
        run_stack(per_box_config(), secrets)
    # only per-box passwords, for every box with backups: no shared one needed
    secrets = {**fleet_secrets(),
               "resticPasswords": json.dumps({"web2": WEB2_PW, "default": SHARED_PW})}
    g = run_stack(per_box_config(), secrets)
    assert g.get("backup-install", REMOTE).inputs["stdin"] == f"{SHARED_PW}\n"


def test_public_key_is_read_from_the_install_s_last_key_line() -> None:
    key = PUBLIC["box1"]
    assert public_key(f"x\nbackup-install: {PUBLIC_KEY_LINE}{key}\n") == key
    assert public_key(f"backup-install: {PUBLIC_KEY_LINE}{key}") == key
    assert public_key("backup-install: no change\n") is None
    assert public_key(None) is None
    # never a private key or anything else after the line's prefix
    assert public_key(f"backup-install: {PUBLIC_KEY_LINE}-----BEGIN OPENSSH PRIVATE KEY-----") is None


def test_a_box_stack_with_backups_moved_to_boxes_default_keeps_every_resource() -> None:
    single = copy.deepcopy(BASE_CONFIG)
    single["backup"] = {"repository": "/srv/restic", "keepDaily": 14}
    secrets = {**SECRETS, "resticPassword": SHARED_PW}
    before = snapshot(run_stack(single, secrets))
    # the same box as boxes.default with its own backup block, no stack-wide one
    fleet = {k: v for k, v in copy.deepcopy(single).items() if k not in ("box", "backup")}
    fleet["boxes"] = {"default": {**single["box"], "backup": single["backup"]}}
    assert snapshot(run_stack(fleet, secrets)) == before
    # with its own password under resticPasswords.default: the install's messages name that key
    own = snapshot(run_stack(fleet, {**SECRETS, "resticPasswords": json.dumps({"default": SHARED_PW})}))
    changed = [new for new, old in zip(own, before, strict=True) if new != old]
    assert [c["path"].rsplit("::", 1)[1] for c in changed] == ["backup-install"]
    assert "wpfleet:resticPasswords.default" in changed[0]["inputs"]["create"]
    assert changed[0]["inputs"]["stdin"] == f"{SHARED_PW}\n"
