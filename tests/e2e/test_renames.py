"""Renaming a box, a backend and a site through the real `pulumi` (issue 20 item 1).

One stack of its own (`renames`) on a fresh test box (tests/e2e/box.sh), driven like
test_scenario.py: each step is a test, in order; a failed step skips the rest. The stack: one
WordPress site, one API backend on its own domain, TLS from the test CA with
`acme.revokeOnDelete: true` (so a delete that wrongly acted would revoke a live certificate),
DuckDNS, the firewall, SSH hardening (sshd stays on 22), backups to SFTP.

1. first `up` as a `wpfleet:box` stack (the box `default`);
2. `wpfleet:boxes.web1` without `renamedFrom`: `up` is refused by box-preflight before anything
   on the box changes; back to `wpfleet:box` and `up` (drops what that run registered);
3. `wpfleet:boxes.web1` with `renamedFrom: default`: `preview` shows no create, delete or
   replace; `up` keeps every container (same IDs);
4. the backend `api` renamed `gateway` (same domain): its conf and certificate commands are
   created under the new name and the old ones deleted: the certificate is kept, not revoked;
5. the site `blog` renamed `journal` by docs/operations.md's path (stop and hold the old
   containers, copy the volumes, `renamedFrom: blog`, `up`): same content, same certificate,
   same admin password;
6. `destroy`: the deletes that still own what they undo do undo it (certificates revoked).

After steps 3-5 the box is checked from outside: the sites answer over HTTPS with the same
certificate (pebble still calls it valid), ufw is active, sshd is hardened, the timers are
there, and `preview` shows no change.
"""

from __future__ import annotations

import copy
import json
import secrets
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from components.config import MARIADB_IMAGE
from tests.e2e.boxlib import BoxManager
from tests.e2e.pulumi_cli import Project, PulumiError, steps_by_op

pytestmark = [pytest.mark.e2e, pytest.mark.incremental]

BLOG = {"name": "blog", "domain": "blog.test", "aliases": ["www.blog.test"], "port": 8082,
        "replicas": 1, "tls": True, "title": "The blog", "adminUser": "editor"}
API = {"name": "api", "domain": "api.test", "upstream": "http://127.0.0.1:8180"}
CONTAINERS_OF_BLOG = ("wpfleet-blog-db", "wpfleet-blog-wp-0")
TIMERS = {"wpfleet-duckdns.service", "wpfleet-cron-blog.service", "wpfleet-backup.service",
          "wpfleet-backup-check.service", "wpfleet-keeper.service"}
# what changes for a rename: creates and deletes only for the renamed thing, never a replace
REPLACING = {"replace", "create-replacement", "delete-replaced"}


class Renames:
    def __init__(self, box: Any, project: Project) -> None:
        self.box = box
        self.project = project
        self.box_name: str | None = None  # None: `wpfleet:box`
        self.renamed_from: str | None = None
        self.sites = [copy.deepcopy(BLOG)]
        self.backends = [copy.deepcopy(API)]
        self.secrets: dict[str, str] = {}
        self.serials: dict[str, str] = {}  # domain -> serial served after the first up
        self.containers: dict[str, str] = {}  # name -> ID after the first up
        self.post = ""
        self.admin_password = ""

    def config(self) -> dict[str, Any]:
        env = self.box.env
        box: dict[str, Any] = {"host": self.box.address, "port": 22, "user": "root",
                               "hostKey": env["WPFLEET_BOX_HOST_KEY"], "hardenSsh": True}
        per_box = {"apache": {"httpPort": 80, "httpsPort": 443},
                   "duckdns": {"domains": ["wpfleet-e2e"]}, "firewall": {"enabled": True}}
        cfg: dict[str, Any] = {
            "acme": {"email": "admin@blog.test", "server": env["WPFLEET_BOX_ACME_DIR"],
                     "revokeOnDelete": True},
            "sites": copy.deepcopy(self.sites), "backends": copy.deepcopy(self.backends),
            "backup": {"repository": env["WPFLEET_BOX_SFTP_REPOSITORY"], "schedule": "daily"},
        }
        if self.box_name is None:
            cfg.update(box=box, **per_box)
        else:
            extra = {"renamedFrom": self.renamed_from} if self.renamed_from else {}
            cfg["boxes"] = {self.box_name: {**box, **per_box, **extra}}
        return {f"wpfleet:{k}": v for k, v in cfg.items()}

    def configure(self) -> None:
        self.project.write_config(self.config())

    def ssh(self, command: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return self.box.ssh(command, **kw)

    def changes(self) -> dict[str, list[str]]:
        ops = steps_by_op(self.project.preview())
        ops.pop("same", None)
        return ops

    def https(self, host: str, path: str = "/") -> tuple[int, str]:
        done = subprocess.run(["curl", "-sS", "--max-time", "30", "-o", "-", "-w", "\n%{http_code}",
                               "--cacert", self.box.env["WPFLEET_BOX_CA"],
                               "--resolve", f"{host}:443:{self.box.address}",
                               f"https://{host}{path}"],
                              capture_output=True, text=True, timeout=60, check=False)
        body, _, code = done.stdout.rpartition("\n")
        return (int(code or 0) if done.returncode == 0 else 0), body

    def wait_https(self, host: str, path: str = "/", timeout: float = 180) -> str:
        deadline = time.monotonic() + timeout
        while True:
            code, body = self.https(host, path)
            if code == 200:
                return body
            assert time.monotonic() < deadline, f"https://{host}{path}: {code} {body[-300:]}"
            time.sleep(2)

    def served_serial(self, host: str) -> str:
        done = subprocess.run(
            ["bash", "-c", f"openssl s_client -connect {self.box.address}:443 -servername "
                           f"{host} </dev/null 2>/dev/null | openssl x509 -noout -serial"],
            capture_output=True, text=True, timeout=60, check=True)
        return done.stdout.strip().split("=", 1)[-1]

    def ca_status(self, serial: str) -> str:
        """Pebble's own record of the certificate: Valid or Revoked."""
        ctx = ssl.create_default_context(cafile=self.box.env["WPFLEET_BOX_TEST_CA"])
        url = f"{self.box.env['WPFLEET_BOX_ACME_MANAGEMENT']}/cert-status-by-serial/{serial.lower()}"
        with urllib.request.urlopen(url, context=ctx, timeout=30) as r:  # noqa: S310 (test CA)
            return str(json.loads(r.read())["Status"])

    def container_ids(self) -> dict[str, str]:
        out = self.ssh("docker ps -a --format '{{.Names}} {{.ID}}'").stdout
        return dict(line.split() for line in out.splitlines() if line.startswith("wpfleet-"))

    def timers(self) -> set[str]:
        return set(self.ssh("systemctl list-timers --all --no-legend --plain 'wpfleet-*' "
                            "| awk '{print $NF}'").stdout.split())

    def owner(self, what: str) -> str:
        return self.ssh(f"cat /etc/wpfleet/owners/{what}").stdout.strip()

    def assert_box_is_whole(self, site_host: str = "blog.test", timers: set[str] = TIMERS) -> None:
        """What a rename must leave: HTTPS with the same, valid certificates, the firewall,
        the SSH hardening, the timers; and nothing left for `preview` to do."""
        assert "<title>The blog" in self.wait_https(site_host)
        code, body = self.https("api.test", "/v1")
        assert code == 200 and json.loads(body)["path"] == "/v1", body
        for domain in ("blog.test", "api.test"):
            assert self.served_serial(domain) == self.serials[domain], domain
            assert self.ca_status(self.serials[domain]) == "Valid", domain
            self.ssh(f"test -f /etc/letsencrypt/live/{domain}/fullchain.pem")
        assert self.ssh("ufw status | head -1").stdout.strip() == "Status: active"
        sshd = self.ssh("sshd -T | grep -Ei '^(passwordauthentication|permitrootlogin) '").stdout
        assert "passwordauthentication no" in sshd
        assert "permitrootlogin without-password" in sshd
        assert self.timers() == timers
        self.project.preview("--expect-no-changes")


@pytest.fixture(scope="module")
def renames(box_manager: BoxManager, pulumi_env: dict[str, str],
            tmp_path_factory: pytest.TempPathFactory) -> Renames:
    box_manager.stop()  # a fresh box: no owner stamps, no Apache from another test
    box = box_manager.ensure()
    project = Project.copy_of_program(tmp_path_factory.mktemp("renames") / "project", pulumi_env,
                                      stack="renames")
    r = Renames(box, project)
    project.init(r.config())
    r.secrets = {"wpfleet:sshPrivateKey": Path(box.key_file).read_text(),
                 "wpfleet:duckdnsToken": f"duck-{secrets.token_hex(12)}",
                 "wpfleet:resticPassword": f"restic-{secrets.token_hex(16)}"}
    for key, value in r.secrets.items():
        project.set_secret(key, value)
    return r


# --- 1: a converged wpfleet:box stack ---------------------------------------------------------

def test_first_up(renames: Renames) -> None:
    renames.project.up()
    assert "<title>The blog" in renames.wait_https("blog.test")
    renames.serials = {d: renames.served_serial(d) for d in ("blog.test", "api.test")}
    renames.containers = renames.container_ids()
    assert set(CONTAINERS_OF_BLOG) <= set(renames.containers)
    assert renames.owner("box-keeper") == "box-keeper"
    assert renames.owner("cert-blog.test") == "cert-blog"
    renames.assert_box_is_whole()


# --- 2-3: the box `default` becomes `web1` ----------------------------------------------------

def test_a_box_renamed_without_renamed_from_is_refused(renames: Renames) -> None:
    renames.box_name = "web1"
    renames.configure()
    with pytest.raises(PulumiError):
        renames.project.up()
    said = renames.project.log[-1]  # the whole output of that `up` (the error keeps a tail)
    assert "this box was set up as the box default" in said, said[-4000:]
    assert "set wpfleet:boxes.web1.renamedFrom: default" in said
    assert renames.container_ids() == renames.containers  # nothing on Docker was touched
    assert renames.owner("box-keeper") == "box-keeper"
    # back: the resources that run registered (web1-box-docker-access, components) are dropped
    renames.box_name = None
    renames.configure()
    renames.project.up()
    renames.assert_box_is_whole()


def test_a_box_renamed_with_renamed_from_creates_and_deletes_nothing(renames: Renames) -> None:
    renames.box_name, renames.renamed_from = "web1", "default"
    renames.configure()
    ops = renames.changes()
    assert not {"create", "delete"} & set(ops) and not REPLACING & set(ops), ops
    # the commands run again in place (their owner stamps name web1-...); nothing else changes
    assert all(name.startswith("web1-") for name in ops.get("update", [])), ops
    renames.project.up()
    assert renames.container_ids() == renames.containers  # not one container re-created
    assert renames.owner("box-keeper") == "web1-box-keeper"
    assert renames.owner("cert-blog.test") == "web1-cert-blog"
    renames.assert_box_is_whole()


# --- 4: a backend renamed ---------------------------------------------------------------------

def test_a_backend_rename_keeps_its_certificate(renames: Renames) -> None:
    renames.backends = [{**API, "name": "gateway"}]
    renames.configure()
    ops = renames.changes()
    assert not REPLACING & set(ops), ops
    assert {"web1-apache-conf-gateway", "web1-cert-gateway"} <= set(ops["create"]), ops
    assert {"web1-apache-conf-api", "web1-cert-api"} <= set(ops["delete"]), ops
    assert all("gateway" in n for n in ops["create"]) and all("api" in n for n in ops["delete"])
    renames.project.up()
    assert renames.owner("cert-api.test") == "web1-cert-gateway"
    assert renames.container_ids() == renames.containers
    renames.assert_box_is_whole()


# --- 5: a site renamed, by docs/operations.md ("Renaming a site") -------------------------------

def test_a_site_rename_by_the_documented_path(renames: Renames) -> None:
    renames.post = renames.ssh("wpfleet-wp blog post create --post_title='Kept by the rename' "
                               "--post_status=publish --porcelain").stdout.strip()
    assert renames.post.isdigit()
    before = renames.project.outputs(show_secrets=True)["adminPasswords"]
    renames.admin_password = before["blog"]
    # 1. stop the site and keep it stopped (box-keeper would start it again)
    held = " ".join(CONTAINERS_OF_BLOG)
    renames.ssh(f"mkdir -p /run/wpfleet/hold && for c in {held}; do "
                "touch /run/wpfleet/hold/$c; done && docker stop " + held)
    # 2. copy its volumes to the new name, with the labels wpfleet gives them
    for v in ("db", "html"):
        renames.ssh(f"docker volume create --label org.wpfleet.site=journal "
                    f"--label org.wpfleet.role={v} wpfleet-journal-{v} >/dev/null && "
                    f"docker run --rm -v wpfleet-blog-{v}:/from:ro -v wpfleet-journal-{v}:/to "
                    f"--entrypoint /bin/sh {MARIADB_IMAGE} -c 'cp -a /from/. /to/'", timeout=600)
    # 3. the new name, with the old one as renamedFrom; same domain, same port
    renames.sites = [{**BLOG, "name": "journal", "renamedFrom": "blog"}]
    renames.configure()
    ops = renames.changes()
    assert not REPLACING & set(ops), ops
    assert {"journal-db", "journal-wp-0", "web1-wordpress-journal", "web1-apache-conf-journal",
            "web1-cert-journal", "web1-backup-site-journal"} <= set(ops["create"]), ops
    assert {"blog-db", "blog-wp-0", "web1-apache-conf-blog", "web1-cert-blog"} <= set(ops["delete"])
    assert not [n for n in ops["create"] + ops["delete"] if "password" in n or "salts" in n], ops
    assert all("journal" in n for n in ops["create"]) and all("blog" in n for n in ops["delete"])
    # 4. up
    renames.project.up()
    renames.ssh(f"cd /run/wpfleet/hold && rm -f {held}")
    assert "Kept by the rename" in renames.wait_https("blog.test", f"/?p={renames.post}")
    after = renames.project.outputs(show_secrets=True)["adminPasswords"]
    assert set(after) == {"journal"} and after["journal"] == renames.admin_password
    assert renames.owner("cert-blog.test") == "web1-cert-journal"
    volumes = renames.ssh("docker volume ls --format '{{.Name}}'").stdout.split()
    assert {"wpfleet-blog-db", "wpfleet-blog-html"} <= set(volumes)  # the old data stays
    running = renames.container_ids()
    assert {"wpfleet-journal-db", "wpfleet-journal-wp-0"} <= set(running)
    assert not set(CONTAINERS_OF_BLOG) & set(running)
    renames.assert_box_is_whole(
        timers=TIMERS - {"wpfleet-cron-blog.service"} | {"wpfleet-cron-journal.service"})


# --- 6: destroy: the owners' deletes still act ----------------------------------------------------

def test_destroy_undoes_what_each_resource_owns(renames: Renames) -> None:
    renames.project.destroy()
    assert (renames.project.state()["deployment"].get("resources") or []) == []
    for domain in ("blog.test", "api.test"):  # acme.revokeOnDelete: true
        assert renames.ca_status(renames.serials[domain]) == "Revoked", domain
        assert renames.ssh(f"test -e /etc/letsencrypt/live/{domain}", check=False).returncode != 0
    assert renames.timers() == set()
    stamps = renames.ssh("ls -A /etc/wpfleet/owners 2>/dev/null || true").stdout.split()
    assert stamps == [], stamps
