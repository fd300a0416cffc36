"""Renames against real services (issue 20 item 1): the old resource's delete, run after the
new resource's create as Pulumi orders them, removes nothing the new one wrote.

- a box renamed without `renamedFrom`: `web1-box-duckdns` and `web1-box-ssh` are created, then
  `box-duckdns` and `box-ssh` deleted, over a real sshd (the scripts as Box.run sends them,
  owner stamps included) with a fake systemctl: the timer, its units, the token and the sshd
  drop-in stay; the same deletes without the stamps (the code before) would have removed them;
- a site renamed (blog -> journal, same domain, `acme.revokeOnDelete: true`): `cert-journal`
  is created (certbot keeps the valid lineage), then `cert-blog` deleted: the certificate is
  neither deleted nor revoked (pebble's own record of it), and Apache still serves it;
- box-preflight names the container of a renamed site that holds the new site's port.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.config import fleet, parse
from components.render import owned
from components.render.box.duckdns import duckdns
from components.render.box.preflight import preflight
from components.render.box.ssh import drop_in, ssh
from tests.harness import HOST_KEY
from tests.integration import test_certbot_real as certbot_tests
from tests.integration import test_duckdns_real as duck_tests
from tests.integration.docker_env import dockerd  # noqa: F401 (fixture)
from tests.integration.pebble_env import MGMT_PORT
from tests.integration.sshd_env import PORT, SshdEnv, require_ssh
from tests.integration.test_duckdns_real import FAKE_SYSTEMCTL, TOKEN, FakeDuck
from tests.integration.test_first_up_real import sleep_image

pytestmark = pytest.mark.integration
fake_duck = duck_tests.fake_duck  # the fake DuckDNS server fixture
world = certbot_tests.world  # pebble + Apache + the rendered certbot commands


@pytest.fixture
def env(tmp_path: Path) -> Iterator[SshdEnv]:
    require_ssh()
    with SshdEnv(tmp_path) as e:
        yield e


def box_stack(url: str, name: str | None = None) -> dict:
    box = {"host": "127.0.0.1", "port": PORT, "hostKey": HOST_KEY, "hardenSsh": True}
    cfg = {"duckdnsToken": "x", "duckdns": {"domains": ["meljuju"], "updateUrl": url}}
    if name is None:
        return {"box": box, **cfg}
    return {"boxes": {name: {**box, "duckdns": cfg["duckdns"]}}, "duckdnsToken": "x"}


def test_a_box_renamed_without_renamed_from_keeps_its_box_wide_setup(
        env: SshdEnv, fake_duck: FakeDuck, tmp_path: Path) -> None:
    box = tmp_path / "box"
    fake = env.dir / "systemctl"
    fake.write_text(FAKE_SYSTEMCTL)
    fake.chmod(0o755)
    redirects = {"DUCKDNS_TOKEN_FILE": f"{box}/etc/wpfleet/duckdns.token",
                 "WPFLEET_LIB": f"{box}/lib", "SYSTEMD_UNIT_DIR": f"{box}/units",
                 "WPFLEET_ETC": f"{box}/etc/wpfleet", "SYSTEMCTL": str(fake),
                 "SSHD_CONFIG_DIR": str(env.drop_in_dir), "SSHD_CONFIG": str(env.config)}
    env.write_config(set_env=redirects)
    env.start()
    old_stack = fleet.parse(box_stack(fake_duck.url)).box("default")
    new_stack = fleet.parse(box_stack(fake_duck.url, "web1")).box("web1")
    specs = {}
    for prefix, stack in (("", old_stack), ("web1-", new_stack)):
        for spec in (duckdns(stack), ssh(stack)):
            assert spec is not None
            specs[prefix + spec.name] = owned(spec, prefix + spec.name)  # as Box.run sends it

    def run(script: str | None) -> subprocess.CompletedProcess[str]:
        assert script is not None
        done = env.run_script(script, stdin=TOKEN + "\n")
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    def setup() -> list[Path]:
        units = sorted((box / "units").iterdir()) if (box / "units").exists() else []
        return [*units, box / "etc/wpfleet/duckdns.token", box / "lib/duckdns-update",
                env.drop_in_dir / "00-wpfleet.conf"]

    for name in ("box-duckdns", "box-ssh"):  # the first `up`, as box default
        run(specs[name].create)
    written = setup()
    assert len(written) == 5 and all(p.exists() for p in written), written
    for name in ("web1-box-duckdns", "web1-box-ssh"):  # the rename: the new ones first...
        assert "(was " + name.removeprefix("web1-") + ")" in run(specs[name].create).stdout
    for name in ("box-duckdns", "box-ssh"):  # ...then Pulumi deletes the old ones
        assert f"kept {name}: it belongs to web1-{name} now" in run(specs[name].delete).stdout
    assert all(p.exists() for p in setup()) and setup() == written
    assert "wpfleet-duckdns.timer" in (env.dir / "enabled").read_text()
    assert (env.drop_in_dir / "00-wpfleet.conf").read_text() == drop_in(new_stack)
    assert subprocess.run(["/usr/sbin/sshd", "-t", "-f", str(env.config)]).returncode == 0
    owners = box / "etc/wpfleet/owners"
    assert sorted(p.name for p in owners.iterdir()) == ["box-duckdns", "box-ssh"]
    assert (owners / "box-ssh").read_text() == "web1-box-ssh\n"

    # the control: the delete as it was before the stamps removes what web1 had written
    plain = duckdns(old_stack)
    assert plain is not None and plain.delete is not None
    run(plain.delete)
    assert not (box / "etc/wpfleet/duckdns.token").exists()
    # the owner's own delete (box web1 removed from the stack) still undoes its setup
    gone = run(specs["web1-box-ssh"].delete)
    assert "removed the hardening" in gone.stdout and not (owners / "box-ssh").exists()


def pebble_status(world: certbot_tests.World, serial_hex: str) -> str:
    """Pebble's record of a certificate (its management API): Valid or Revoked."""
    ctx = ssl.create_default_context(cafile=str(world.pebble.ca_bundle))
    url = f"https://127.0.0.1:{MGMT_PORT}/cert-status-by-serial/{serial_hex.lower()}"
    with urllib.request.urlopen(url, context=ctx, timeout=20) as r:  # noqa: S310 (https, test CA)
        return str(json.loads(r.read())["Status"])


def test_a_renamed_site_keeps_its_certificate_even_with_revoke_on_delete(
        world: certbot_tests.World, tmp_path: Path) -> None:
    env = {**world.env, "WPFLEET_OWNERS": str(tmp_path / "owners")}

    def cert(script: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                              timeout=180)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    blog = [{"name": "blog", "domain": "blog.test", "aliases": ["www.blog.test"],
             "port": 19001, "replicas": 2}]
    world.render(blog, revoke=True)
    old_delete = (world.out / "commands/cert-blog.delete.sh").read_text()
    cert((world.out / "commands/cert-blog.sh").read_text())  # issued, or kept from earlier tests
    serial = world.serial("blog.test").split("=", 1)[1]
    assert pebble_status(world, serial) == "Valid"

    world.render([{**blog[0], "name": "journal"}], revoke=True)  # the rename
    created = cert((world.out / "commands/cert-journal.sh").read_text())
    assert "unchanged: certificate blog.test is valid" in created.stdout
    assert "owner of cert-blog.test: cert-journal (was cert-blog)" in created.stdout
    deleted = cert(old_delete)
    assert "kept cert-blog.test: it belongs to cert-journal now" in deleted.stdout
    assert "revoked" not in deleted.stdout
    assert (world.le / "live/blog.test/fullchain.pem").exists()
    assert world.serial("blog.test").split("=", 1)[1] == serial
    assert pebble_status(world, serial) == "Valid"
    assert world.served_serial("blog.test").split("=", 1)[1] == serial
    world.render(certbot_tests.SITES)  # as the module's other tests expect it


def test_preflight_names_the_renamed_sites_container_holding_the_port(
        dockerd: Path, tmp_path: Path) -> None:  # noqa: F811
    netns = f"/run/netns/wpf-test-dk{os.getpid()}"
    subprocess.run(["nsenter", f"--net={netns}", "ip", "link", "set", "lo", "up"], check=True,
                   timeout=30)
    image = sleep_image(dockerd)
    dk = ["docker", "-H", f"unix://{dockerd}"]
    subprocess.run([*dk, "network", "create", "wpf-t-rename"], check=True, capture_output=True,
                   timeout=60)
    subprocess.run([*dk, "run", "-d", "--name", "wpfleet-blog-wp-0", "--network", "wpf-t-rename",
                    "-p", "127.0.0.1:27911:80", image, "/usr/bin/sleep", "300"],
                   check=True, capture_output=True, timeout=120)
    stack = parse({"box": {"host": "local", "minFreeDiskMb": 0}, "acme": {"email": "a@example.org"},
                   "sites": [{"name": "journal", "domain": "blog.example.org", "port": 27911,
                              "tls": False, "renamedFrom": "blog"}]})
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DOCKER_HOST": f"unix://{dockerd}",
           "WPFLEET_ETC": str(tmp_path / "etc")}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["nsenter", f"--net={netns}", "bash", "-c", preflight(stack).create],
                              env=env, capture_output=True, text=True, timeout=120)

    held = run()
    assert held.returncode == 1
    assert ("port 27911 (wpfleet:sites[0].port, for wpfleet-journal-wp-0) is held by "
            "wpfleet-blog-wp-0, which is no longer in this config (a renamed or removed site or "
            "backend)") in held.stderr, held.stderr
    # the documented path: stop (and hold) the old site's containers first
    subprocess.run([*dk, "stop", "-t", "0", "wpfleet-blog-wp-0"], check=True, capture_output=True,
                   timeout=60)
    ok = run()
    assert ok.returncode == 0, ok.stderr
    subprocess.run([*dk, "rm", "-f", "wpfleet-blog-wp-0"], capture_output=True, timeout=60)
