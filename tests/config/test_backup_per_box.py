"""Backup settings per box (`boxes.NAME.backup`, `resticPasswords.<box>`) and `backup.sftpHostKey`."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.config import ConfigError, SftpTarget
from components.config import fleet as config_fleet
from tests.fleet_configs import fleet_config
from tests.harness import BASE_CONFIG

TARGET_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITargetHostKey"
SHARED = {"repository": "/mnt/backup/restic", "schedule": "*-*-* 03:30:00", "keepDaily": 14}


def fleet_with(shared: dict[str, Any] | None = None, **per_box: Any) -> dict[str, Any]:
    cfg = fleet_config()
    if shared is not None:
        cfg["backup"] = shared
    for name, block in per_box.items():
        cfg["boxes"][name]["backup"] = block
    return cfg


def problems(cfg: dict[str, Any], present: dict[str, Any] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as e:
        fleet = config_fleet.parse(cfg)
        missing = config_fleet.missing_secrets(fleet, present if present is not None else cfg)
        if missing:
            raise ConfigError(missing)
    return e.value.problems


def test_a_box_overrides_the_stack_wide_backup_key_by_key_or_turns_it_off() -> None:
    cfg = fleet_with(SHARED, web2={"repository": "sftp:web2@nas.example.org:/srv/restic/web2"},
                     web3={"enabled": False})
    fleet = config_fleet.parse(cfg)
    default, web2, web3 = (fleet.box(n).backup for n in ("default", "web2", "web3"))
    assert default is not None and default.repository == "/mnt/backup/restic"
    assert web2 is not None and web2.repository == "sftp:web2@nas.example.org:/srv/restic/web2"
    # the rest of web2's settings are the stack's
    assert (web2.schedule, web2.keep_daily, web2.keep_weekly) == ("*-*-* 03:30:00", 14, 4)
    assert web3 is None
    # the box's own block is not part of its SSH settings
    assert fleet.box("web2").box.host == "box2.example.org"


def test_stack_wide_enabled_false_leaves_backups_to_the_boxes_that_turn_them_on() -> None:
    cfg = fleet_with({**SHARED, "enabled": False}, web2={"enabled": True})
    fleet = config_fleet.parse(cfg)
    assert [n for n, st in fleet.boxes if st.backup is not None] == ["web2"]
    assert fleet.box("web2").backup.keep_daily == 14  # type: ignore[union-attr]


def test_a_box_may_have_backups_without_a_stack_wide_block() -> None:
    fleet = config_fleet.parse(fleet_with(None, web3={"repository": "/srv/restic"}))
    assert [n for n, st in fleet.boxes if st.backup is not None] == ["web3"]


def test_mistakes_in_a_box_s_block_are_named_where_they_were_written() -> None:
    found = problems(fleet_with(SHARED, web2={"keepDaily": -1, "repositry": "/x"},
                                web3={"enabled": False, "repository": "/srv/r"}))
    assert any(p.startswith("wpfleet:boxes.web2.backup.keepDaily: -1 must be between 0 and 1000")
               for p in found), found
    assert any(p.startswith("wpfleet:boxes.web2.backup.repositry: '/x' is not a known setting")
               for p in found), found
    assert "wpfleet:boxes.web3.backup: enabled: false turns backups off on box web3, so " \
           "repository would do nothing; remove them (or enabled)" in found
    # a stack-wide mistake is reported once, with the stack-wide key
    found = problems(fleet_with({**SHARED, "keepWeekly": "four"}))
    assert [p for p in found if "keepWeekly" in p] == ["wpfleet:backup.keepWeekly: 'four' must "
                                                        "be a whole number"]
    found = problems(fleet_with(SHARED, web2=True))
    assert found[0].startswith("wpfleet:boxes.web2.backup: True must be a mapping")


def test_a_single_box_stack_has_no_per_box_block() -> None:
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["box"]["backup"] = {"repository": "/srv/restic"}
    assert any(p.startswith("wpfleet:box.backup: ") and "is not a known setting" in p
               for p in problems(cfg))


def restic_problems(fleet: Any, present: dict[str, Any]) -> list[str]:
    return [p for p in config_fleet.missing_secrets(fleet, present) if "restic" in p]


def test_per_box_restic_passwords_or_the_shared_one() -> None:
    cfg = fleet_with(SHARED, web3={"enabled": False})
    fleet = config_fleet.parse(cfg)
    # only web2 has its own: default needs the shared one, web3 has no backups
    found = problems(cfg, {**cfg, "resticPasswords": {"web2": "x"}, "sshPrivateKey": "k"})
    assert [p for p in found if "restic" in p] == [
        "wpfleet:resticPasswords.default: is required by the backups of box default because "
        "wpfleet:resticPassword (shared by all boxes) is not set; set one of them with "
        "`pulumi config set --secret --path 'wpfleet:resticPasswords.default'`"]
    ok = {**cfg, "resticPasswords": {"web2": "x", "default": "y"}, "sshPrivateKey": "k"}
    assert restic_problems(fleet, ok) == []
    ok = {**cfg, "resticPasswords": {"web2": "x"}, "resticPassword": "y", "sshPrivateKey": "k"}
    assert restic_problems(fleet, ok) == []
    # an encrypted whole map hides its names: every box is assumed listed
    ok = {**cfg, "resticPasswords": {"secure": "AAAB"}, "sshPrivateKey": "k"}
    assert restic_problems(fleet, ok) == []
    # messages on the box name the secret the box's password comes from
    named = config_fleet.parse({**cfg, "resticPasswords": {"web2": "x"}})
    assert named.box("web2").backup.password_key == "resticPasswords.web2"  # type: ignore[union-attr]
    assert named.box("default").backup.password_key == "resticPassword"  # type: ignore[union-attr]


def test_without_per_box_passwords_the_message_is_the_one_of_before() -> None:
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["backup"] = {"repository": "/srv/restic"}
    found = problems(cfg, {**cfg, "sshPrivateKey": "k"})
    assert found == ["wpfleet:resticPassword: is required by this stack but not set; set it with "
                     "`pulumi config set --secret wpfleet:resticPassword`"]


def test_restic_passwords_must_name_boxes() -> None:
    cfg = {**fleet_with(SHARED), "resticPasswords": {"web9": "x"}}
    assert any(p.startswith("wpfleet:resticPasswords.web9: names no box in the stack (default, "
                            "web2, web3); remove it") for p in problems(cfg))


@pytest.mark.parametrize(("repository", "target"), [
    ("sftp:web2@nas.example.org:/srv/restic/web2", ("web2", "nas.example.org", 22)),
    ("sftp:nas:restic", (None, "nas", 22)),
    ("sftp://u123@u123.your-storagebox.de:23/restic/web2", ("u123", "u123.your-storagebox.de", 23)),
    ("sftp://backup@192.168.1.20:2222//srv/restic", ("backup", "192.168.1.20", 2222)),
])
def test_sftp_host_key_pins_the_target_of_the_repository(repository: str,
                                                          target: tuple[Any, ...]) -> None:
    cfg = fleet_with({"repository": repository, "sftpHostKey": f"nas.example.org {TARGET_KEY}"})
    backup = config_fleet.parse(cfg).box("web2").backup
    assert backup is not None
    user, host, port = target
    # a pasted known_hosts line keeps only TYPE BASE64
    assert backup.sftp == SftpTarget(user=user, host=host, port=port, host_key=TARGET_KEY)


def test_without_sftp_host_key_nothing_changes() -> None:
    cfg = fleet_with({"repository": "sftp:web2@nas.example.org:/srv/restic"})
    assert config_fleet.parse(cfg).box("web2").backup.sftp is None  # type: ignore[union-attr]


@pytest.mark.parametrize(("block", "key", "expected"), [
    ({"repository": "/srv/restic", "sftpHostKey": TARGET_KEY}, "sftpHostKey",
     "wpfleet:backup.sftpHostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITargetHostKey' pins the "
     "host key of an sftp: repository, but wpfleet:backup.repository is '/srv/restic'; set "
     "repository to the sftp: URL"),
    ({"sftpHostKey": TARGET_KEY}, "sftpHostKey", "backup.repository is not set"),
    ({"repository": "sftp:web2@nas.example.org:/srv/r", "sftpHostKey": "ssh-rsa AAAAB3Nza"},
     "sftpHostKey",
     "wpfleet:backup.sftpHostKey: 'ssh-rsa AAAAB3Nza' is an ssh-rsa key; pin the target's "
     "ed25519 key: `ssh-keyscan -p 22 -t ed25519 nas.example.org 2>/dev/null | cut -d' ' -f2-`"),
    ({"repository": "sftp:web2@nas.example.org:/srv/r", "sftpHostKey": "ssh-ed25519 AAAA; rm"},
     "sftpHostKey", "must be one public host key"),
    ({"repository": "sftp:a@b@nas.example.org:/srv/r", "sftpHostKey": TARGET_KEY}, "repository",
     "wpfleet:backup.repository: 'sftp:a@b@nas.example.org:/srv/r' is not an sftp: URL wpfleet "
     "can connect to"),
    ({"repository": "sftp:web2@nas.example.org:~/r", "sftpHostKey": TARGET_KEY}, "repository",
     "is not an sftp: URL wpfleet can connect to"),
])
def test_sftp_host_key_mistakes_are_refused_with_key_and_value(block: dict[str, Any], key: str,
                                                              expected: str) -> None:
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["backup"] = block
    found = problems(cfg)
    assert any(p.startswith(f"wpfleet:backup.{key}: ") and expected in p for p in found), found
    # in a box's own block, with the keys written there
    found = problems(fleet_with(None, web2=block))
    expected = expected.replace("wpfleet:backup.", "wpfleet:boxes.web2.backup.")
    assert any(p.startswith(f"wpfleet:boxes.web2.backup.{key}: ") and expected in p
               for p in found), found


def test_a_box_s_own_repository_beside_the_shared_secret_repository_is_refused() -> None:
    cfg = {**fleet_with(SHARED, web2={"repository": "/srv/restic-web2"}),
           "backupEnv": {"RESTIC_REPOSITORY": {"secure": "AAAB"}}}
    assert "wpfleet:boxes.web2.backup.repository: '/srv/restic-web2' would be ignored: the " \
           "secret wpfleet:backupEnv.RESTIC_REPOSITORY (stack-wide, read by every box) sets the " \
           "repository; remove one of them" in problems(cfg)
    # the stack-wide repository beside it: as before (the secret wins), not refused
    del cfg["boxes"]["web2"]["backup"]
    assert config_fleet.parse(cfg).box("web2").backup is not None
