"""The rendered certbot commands, run unchanged against pebble (real HTTP-01) and a real Apache.

One world per module (certbot_world.py). Tests run in file order (issue → no-op → renew →
failure → expand), each asserting on what the previous left behind. What a renewal that dies
midway leaves behind, and the upgrade of a box whose Apache read certbot's files, are in
test_certbot_renewal_real.py.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.integration.certbot_world import HTTP, HTTPS, SITES, World, make_world, openssl
from tests.integration.pebble_env import port_open

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with make_world() as w:
        yield w


def test_issues_certificate_for_domain_and_alias_over_real_http01(world: World) -> None:
    reloads = world.apache._reloads()
    run = world.cert("blog")
    assert run.returncode == 0, run.stdout + run.stderr + world.pebble.log()
    assert "changed: certificate blog.test issued for blog.test www.blog.test" in run.stdout
    assert "changed: installed deploy hook" in run.stdout
    assert "certbot.timer cannot be checked" in run.stdout  # no systemd here: reported
    live = world.le / "live/blog.test/fullchain.pem"
    assert f"certificate: {live}" in run.stdout
    sans = openssl("x509", "-in", str(live), "-noout", "-ext", "subjectAltName")
    assert "DNS:blog.test" in sans and "DNS:www.blog.test" in sans
    world.apache.wait_reloads(reloads)  # the script's graceful reload (also flushes logs)
    # pebble's VA fetched the challenge from the site's own port-80 vhost (real HTTP-01)
    access = world.apache.error_log("wpfleet-blog-access_log")
    assert "/.well-known/acme-challenge/" in access and " 200 " in access


def test_https_verifies_and_is_served_by_the_replicas(world: World) -> None:
    bodies = set()
    for _ in range(6):
        r = world.https("blog.test")
        assert r.returncode == 0, r.stderr
        bodies.add(r.stdout.strip())
    assert bodies == {"replica-19001", "replica-19002"}
    alias = world.https("www.blog.test", "/", "-o", "/dev/null", "-w", "%{http_code}")
    assert alias.returncode == 0 and alias.stdout in ("200", "301"), alias  # cert covers it


def test_http_redirects_to_https_but_serves_the_acme_path(world: World) -> None:
    r = world.curl(f"http://blog.test:{HTTP}/some/page", f"blog.test:{HTTP}:127.0.0.1",
                   "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}")
    assert r.stdout == f"301 https://blog.test:{HTTPS}/some/page", r


def test_rerun_is_a_noop(world: World) -> None:
    before = world.serial("blog.test")
    run = world.cert("blog")
    assert run.returncode == 0, run.stderr
    assert "unchanged: certificate blog.test" in run.stdout
    assert not [ln for ln in run.stdout.splitlines() if ln.startswith("changed:")]
    assert world.serial("blog.test") == before


def test_forced_renewal_runs_the_deploy_hook_and_apache_serves_the_new_cert(world: World) -> None:
    old = world.served_serial("blog.test")
    assert old == world.serial("blog.test")
    reloads = world.apache._reloads()
    r = subprocess.run(["certbot", "renew", "--force-renewal", "--no-random-sleep-on-renew",
                        "--non-interactive", "--config-dir", str(world.le)], env=world.env,
                       capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "wpfleet: reloaded Apache" in r.stdout + r.stderr  # our deploy hook ran
    world.apache.wait_reloads(reloads)
    new = world.serial("blog.test")
    assert new != old and world.served_serial("blog.test") == new


def test_unresolvable_domain_fails_clearly_and_other_sites_keep_serving(world: World) -> None:
    assert world.cert("shop").returncode == 0  # a second TLS site, issued normally
    shop_serial = world.serial("shop.test")
    world.pebble.point("bad.test", "127.0.0.2")
    assert not port_open(HTTP, "127.0.0.2")  # nothing answers there: validation must fail
    run = world.cert("bad")
    assert run.returncode != 0
    assert "certbot could not get a certificate for bad.test" in run.stderr
    assert "127.0.0.2" in run.stderr  # certbot's reason (the CA's Detail line) is surfaced
    assert not (world.le / "live/bad.test").exists()
    plain = world.curl(f"http://bad.test:{HTTP}/", f"bad.test:{HTTP}:127.0.0.1")
    assert plain.stdout.strip() == "replica-19020"  # still served over HTTP, no redirect
    assert world.https("shop.test").stdout.strip() == "replica-19010"
    assert world.served_serial("shop.test") == world.serial("shop.test") == shop_serial
    assert world.https("blog.test").returncode == 0


def test_new_alias_expands_only_that_certificate(world: World) -> None:
    shop_serial, blog_serial = world.serial("shop.test"), world.serial("blog.test")
    sites = [dict(SITES[0], aliases=["www.blog.test", "news.blog.test"]), *SITES[1:]]
    world.render(sites)
    conf = world.apache.run_script(world.out / "commands/apache-conf-blog.sh")
    assert conf.returncode == 0, conf.stdout + conf.stderr
    reloads = world.apache._reloads()
    run = world.cert("blog")
    assert run.returncode == 0, run.stdout + run.stderr
    sans = openssl("x509", "-in", str(world.le / "live/blog.test/cert.pem"), "-noout", "-ext",
                   "subjectAltName")
    assert "DNS:news.blog.test" in sans and world.serial("blog.test") != blog_serial
    world.apache.wait_reloads(reloads)
    assert world.https("news.blog.test", "/", "-o", "/dev/null").returncode == 0
    assert world.serial("shop.test") == shop_serial


def test_delete_keeps_the_certificate_unless_revocation_is_opted_in(world: World) -> None:
    world.render(SITES)
    keep = world.cert("blog", ".delete")
    assert keep.returncode == 0, keep.stderr
    assert "keeping certificate blog.test" in keep.stdout
    assert (world.le / "live/blog.test/fullchain.pem").exists()
    world.render(SITES, revoke=True)
    revoke = world.cert("shop", ".delete")
    assert revoke.returncode == 0, revoke.stdout + revoke.stderr
    assert "revoked and deleted certificate shop.test" in revoke.stdout
    assert not (world.le / "live/shop.test").exists()
    assert not (world.le / "renewal/shop.test.conf").exists()
    again = world.cert("shop", ".delete")  # deleting twice is harmless
    assert again.returncode == 0 and "no certificate shop.test to revoke" in again.stdout
