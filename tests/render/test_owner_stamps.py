"""Owner stamps (render/command.py `owned`): the delete of a renamed resource leaves alone what
the resource created under the new name wrote. The scripts run for real under bash here,
against a file they "own"; tests/integration/test_renames_real.py runs the real box scripts.
"""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

from components.config import fleet
from components.render import BoxCommand, owned, script
from components.render.apache import certbot
from components.render.box.preflight import preflight
from tests.harness import BASE_CONFIG

# a command that writes one file and whose delete removes it: what every guarded command does
WRITES = BoxCommand(name="box-thing", create=script('echo "$1" > "$ART"; echo wrote\n'),
                    delete=script('rm -f "$ART"; echo removed\n'))


def run(text: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "WPFLEET_ETC": str(tmp / "etc"), "ART": str(tmp / "art")}
    return subprocess.run(["bash", "-c", text, "script", *args], env=env, capture_output=True,
                          text=True, timeout=30)


def test_the_old_delete_keeps_what_the_new_name_wrote(tmp_path: Path) -> None:
    old, new = owned(WRITES, "box-thing"), owned(WRITES, "web1-box-thing")
    assert run(old.create, tmp_path, "old").returncode == 0
    assert (tmp_path / "etc/owners/box-thing").read_text() == "box-thing\n"
    # Pulumi: the new resource is created first, then the old one deleted
    created = run(new.create, tmp_path, "new")
    assert created.returncode == 0 and "owner of box-thing: web1-box-thing (was box-thing)" \
        in created.stdout
    deleted = run(old.delete or "", tmp_path)
    assert deleted.returncode == 0
    assert "kept box-thing: it belongs to web1-box-thing now" in deleted.stdout
    assert deleted.stdout.count("removed") == 1  # only in "nothing removed": the body never ran
    assert (tmp_path / "art").read_text() == "new\n"
    # the owner's own delete (the box later removed) still undoes it, and its stamp
    gone = run(new.delete or "", tmp_path)
    assert gone.returncode == 0 and "removed" in gone.stdout
    assert not (tmp_path / "art").exists() and not (tmp_path / "etc/owners/box-thing").exists()


def test_a_delete_acts_when_no_stamp_was_ever_written(tmp_path: Path) -> None:
    """What was created before the stamps existed is undone as before."""
    (tmp_path / "art").write_text("x\n")
    done = run(owned(WRITES, "box-thing").delete or "", tmp_path)
    assert done.returncode == 0 and "removed" in done.stdout and not (tmp_path / "art").exists()


def test_create_is_quiet_when_it_already_owns_and_stamps_are_private(tmp_path: Path) -> None:
    cmd = owned(WRITES, "box-thing")
    run(cmd.create, tmp_path, "a")
    again = run(cmd.create, tmp_path, "a")
    assert again.stdout == "wrote\n"
    assert (tmp_path / "etc/owners").stat().st_mode & 0o777 == 0o700


def test_a_certificate_is_owned_by_its_domain_not_its_command_name() -> None:
    stack = fleet.parse(copy.deepcopy(BASE_CONFIG)).box("default")
    blog = next(h for h in stack.tls_hosts if h.name == "blog")
    spec = owned(certbot.cert_command(stack, blog), "cert-blog")
    assert spec.delete is not None
    assert '"$wpfleet_owners"/cert-blog.example.org' in spec.create
    assert '"$wpfleet_owners"/cert-blog.example.org' in spec.delete
    # the stamp comes before anything else: before the delete revokes or the create issues
    assert spec.delete.index("wpfleet_owner=") < spec.delete.index("CERT_NAME=")
    assert spec.create.startswith("#!/bin/bash\nset -euo pipefail\n# owner stamp")


def test_a_command_without_delete_is_left_as_it_is() -> None:
    plain = BoxCommand(name="box-boot", create=script("true\n"))
    assert owned(plain, "web1-box-boot") is plain


def preflight_problems(tmp: Path, cfg: dict, stamps: dict[str, str]) -> str:
    owners = tmp / "etc/owners"
    owners.mkdir(parents=True, exist_ok=True)
    for key, owner in stamps.items():
        (owners / key).write_text(owner + "\n")
    stack = fleet.parse(cfg).boxes[0][1]
    done = subprocess.run(["bash", "-c", preflight(stack).create],
                          env={"PATH": "/usr/bin:/bin", "WPFLEET_ETC": str(tmp / "etc"),
                               "DOCKER": "/nonexistent/docker"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1  # Docker is missing here in any case
    return done.stderr


def web1(renamed_from: str | None = None) -> dict:
    cfg = copy.deepcopy(BASE_CONFIG)
    box = cfg.pop("box")
    cfg["boxes"] = {"web1": {**box, **({"renamedFrom": renamed_from} if renamed_from else {})}}
    return cfg


def test_preflight_refuses_a_box_renamed_without_renamed_from(tmp_path: Path) -> None:
    err = preflight_problems(tmp_path, web1(), {"box-keeper": "box-keeper"})
    assert ("this box was set up as the box default (box-keeper belongs to box-keeper): if you "
            "renamed that box to web1, set wpfleet:boxes.web1.renamedFrom: default") in err, err


def test_preflight_accepts_the_box_itself_and_the_box_it_was_renamed_from(tmp_path: Path) -> None:
    stamps = {"box-keeper": "box-keeper", "box-firewall": "web1-box-firewall",
              "cert-blog.example.org": "cert-blog"}
    assert "set up as the box" not in preflight_problems(tmp_path, web1("default"), stamps)
    # and a wpfleet:box stack on a box it set up itself
    assert "set up as the box" not in preflight_problems(
        tmp_path / "legacy", copy.deepcopy(BASE_CONFIG), {"box-keeper": "box-keeper"})


def test_preflight_names_the_other_box(tmp_path: Path) -> None:
    err = preflight_problems(tmp_path / "a", copy.deepcopy(BASE_CONFIG),
                             {"box-ssh": "web7-box-ssh"})
    assert ("set up as the box web7 (box-ssh belongs to web7-box-ssh): if you renamed that box "
            "to default, set wpfleet:boxes.default.renamedFrom (wpfleet:box.renamedFrom in a "
            "wpfleet:box stack): web7") in err, err
    # renamedFrom naming a third box does not make it acceptable
    err = preflight_problems(tmp_path / "b", web1("web2"), {"box-ssh": "web7-box-ssh"})
    assert "set up as the box web7" in err
