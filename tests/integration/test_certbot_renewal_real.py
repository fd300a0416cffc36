"""Issue 21 item 2: a renewal is all-or-nothing for Apache, and "verified" means the pair matches.

Real certbot against pebble, real Apache (certbot_world.py). certbot renews by writing new
archive files, then re-pointing its live links cert, privkey, chain, fullchain one by one; a
renewal killed between privkey and fullchain leaves `fullchain.pem` (old) and `privkey.pem` (new)
of two generations. An Apache that read them (wpfleet before this change) died at the next
graceful reload — logrotate's, nightly. Apache now reads wpfleet's copy of the pair, replaced
whole only once it matches, passes configtest and the reload is verified (tls.py).

In file order: the upgrade of a box whose Apache read certbot's files (first apply after the
change), then the renewal killed midway, then the repair.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from tests.integration.certbot_world import World, make_world, openssl

pytestmark = pytest.mark.integration
DOMAIN = "blog.test"

# certbot, killed (SIGKILL: no cleanup handler runs, as with the OOM killer or a power cut) just
# as it re-points the `chain` link: cert.pem and privkey.pem already name the new version,
# chain.pem and fullchain.pem still the old one
CRASH_WHILE_RELINKING = """
import os, signal, sys
from certbot._internal import storage
real = storage.RenewableCert._update_link_to
def update_link_to(self, kind, version):
    if kind == "chain":
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, kind, version)
storage.RenewableCert._update_link_to = update_link_to
from certbot.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with make_world() as w:
        run = w.cert("blog")
        assert run.returncode == 0, run.stdout + run.stderr + w.pebble.log()
        yield w


def live_pair_matches(world: World) -> bool:
    live = world.le / f"live/{DOMAIN}"
    return openssl("x509", "-noout", "-pubkey", "-in", str(live / "fullchain.pem")) == \
        openssl("pkey", "-pubout", "-in", str(live / "privkey.pem"))


class HttpsProbe:
    """Fresh HTTPS connections to the site, back to back, in a thread: the certificates seen and
    every failure (an HTTPS outage during an apply would show here)."""

    def __init__(self, world: World) -> None:
        self.world, self.stop = world, threading.Event()
        self.seen: set[bytes] = set()
        self.failures: list[str] = []
        self.count = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                self.seen.add(self.world.served_der(DOMAIN))
                r = self.world.https(DOMAIN)
                if r.returncode != 0 or not r.stdout.startswith("replica-"):
                    self.failures.append(f"{r.returncode} {r.stdout!r} {r.stderr!r}")
            except (OSError, ssl.SSLError) as e:
                self.failures.append(repr(e))
            self.count += 1

    def __enter__(self) -> HttpsProbe:
        self.thread.start()
        time.sleep(0.5)
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.5)
        self.stop.set()
        self.thread.join(timeout=30)


def test_first_apply_on_a_box_whose_apache_read_certbots_files_keeps_https_up(
        world: World) -> None:
    """The conf as wpfleet rendered it before: the 443 vhost read certbot's live files and its
    <IfFile> named live/<domain>/fullchain.pem. Applying the new conf seeds Apache's copy from
    certbot's (matching) files first, so HTTPS never goes down and no certificate is issued."""
    conf = world.apache.root / "sites-available/wpfleet-blog.conf"
    new = conf.read_text()
    live = world.le / f"live/{DOMAIN}"
    served = f"wpfleet-tls/{DOMAIN}.pem"
    old = new.replace(f"SSLCertificateKeyFile {served}", f"SSLCertificateKeyFile {live}/privkey.pem")
    old = old.replace(served, f"{live}/fullchain.pem")
    assert old != new and "wpfleet-tls" not in old
    conf.write_text(old)
    world.served(DOMAIN).unlink()
    world.apache.graceful()
    assert world.served_der(DOMAIN) == world.live_der(DOMAIN)  # the old setup, serving
    issued = world.serial(DOMAIN)

    with HttpsProbe(world) as probe:
        run = world.apache.run_script(world.out / "commands/apache-conf-blog.sh")
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"changed: {world.served(DOMAIN)} holds the certificate and key" in run.stdout
    assert "applied:" in run.stdout
    assert probe.count > 5 and probe.failures == [], probe.failures
    assert probe.seen == {world.live_der(DOMAIN)}
    assert conf.read_text() == new
    assert world.served(DOMAIN).stat().st_mode & 0o777 == 0o600

    cert = world.cert("blog")  # the cert command of the same `pulumi up`
    assert cert.returncode == 0, cert.stdout + cert.stderr
    assert f"unchanged: certificate {DOMAIN} is valid" in cert.stdout
    assert "verified to match" in cert.stdout and world.serial(DOMAIN) == issued
    again = world.apache.run_script(world.out / "commands/apache-conf-blog.sh")
    assert "unchanged:" in again.stdout and "certificate + key checked" in again.stdout


def test_unchanged_means_the_pair_apache_would_load_matches(world: World) -> None:
    """A served copy whose key no longer matches (edited, corrupted) is not "verified": the conf
    command puts certbot's matching pair back before Apache ever reloads with it."""
    served = world.served(DOMAIN)
    good = served.read_bytes()
    other = subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                            "ec_paramgen_curve:P-256"], capture_output=True, check=True,
                           timeout=20).stdout
    served.write_bytes(other + good[good.index(b"-----BEGIN CERTIFICATE-----"):])
    pid = world.apache.pid()
    run = world.apache.run_script(world.out / "commands/apache-conf-blog.sh")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "unchanged:" not in run.stdout and "holds the certificate and key" in run.stdout
    assert served.read_bytes() == good
    assert world.apache.pid() == pid and world.served_der(DOMAIN) == world.live_der(DOMAIN)


def test_renewal_killed_while_relinking_leaves_apache_serving_the_old_pair(world: World) -> None:
    old = world.served_der(DOMAIN)
    pid = world.apache.pid()
    assert pid is not None
    crash = world.certbot("renew", "--force-renewal", "--no-random-sleep-on-renew",
                          "--cert-name", DOMAIN, python=CRASH_WHILE_RELINKING)
    assert crash.returncode == -9, crash.stdout + crash.stderr
    # the time bomb is really there: certbot's fullchain and privkey are of two generations
    assert not live_pair_matches(world)
    assert (world.le / f"live/{DOMAIN}/previous_cert.pem").is_symlink()

    world.apache.graceful()  # what logrotate does every night
    os.kill(pid, 0)  # the master survived the reload
    assert world.apache.pid() == pid
    assert world.served_der(DOMAIN) == old
    assert world.https(DOMAIN).stdout.startswith("replica-")

    # `pulumi up` meanwhile: certbot's next run finishes the interrupted renewal (it links the
    # complete newer version it finds in its archive: "Found a new certificate /archive/ that
    # was not linked to in /live/; fixing..."), and only then, matching, is it served
    cert = world.cert("blog")
    assert cert.returncode == 0, cert.stdout + cert.stderr
    assert "that was not linked to in /live/; fixing" in cert.stdout
    assert f"changed: Apache serves certificate {DOMAIN}" in cert.stdout
    assert live_pair_matches(world)
    assert world.served_der(DOMAIN) == world.live_der(DOMAIN) != old
    again = world.cert("blog")
    assert "unchanged:" in again.stdout and "verified to match" in again.stdout, again.stdout


def test_the_next_renewal_is_served(world: World) -> None:
    old = world.served_der(DOMAIN)
    renew = world.certbot("renew", "--force-renewal", "--no-random-sleep-on-renew",
                          "--cert-name", DOMAIN)
    assert renew.returncode == 0, renew.stdout + renew.stderr
    assert "wpfleet: reloaded Apache: it serves the renewed certificate" in \
        renew.stdout + renew.stderr
    new = world.live_der(DOMAIN)
    assert new != old and world.served_der(DOMAIN) == new
    assert not list(world.served(DOMAIN).parent.glob(".*"))  # no staged or .prev copy left
