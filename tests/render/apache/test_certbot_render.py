"""The rendered certbot command: its text, and its logic run against stub certbot/apache2ctl.

The stubs record their arguments, so these tests check what the script asks certbot to do, how
it reacts to success, a no-op and a failure, and how Apache's copy of the pair is swapped in
(only a matching pair Apache accepts; the previous copy otherwise), without a CA. The real flow against pebble is in
tests/integration/test_certbot_real.py.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.config import LETSENCRYPT, StackConfig, parse
from components.render import plan
from components.render.apache import certbot, tls
from components.render.apache import scripts as apache_scripts

RAW: dict[str, Any] = {
    "box": {"host": "local"},
    "acme": {"email": "ops+certs@example.org"},
    "sites": [
        {"name": "blog", "domain": "blog.example.org", "aliases": ["www.blog.example.org"],
         "port": 8082},
        {"name": "plain", "domain": "plain.example.org", "port": 8090, "tls": False},
    ],
    "backends": [{"name": "api", "domain": "api.example.org", "upstream": "http://127.0.0.1:8180"}],
}

# certbot stub: logs argv; FAKE_MODE=issue writes a new (real) certificate + key as certbot's live
# files, keep leaves them, fail fails like a refused validation
FAKE_CERTBOT = r"""#!/bin/bash
printf '%s\n' "$*" >>"$FAKE_LOG/certbot.args"
cfg=; name=
while [ $# -gt 0 ]; do case "$1" in --config-dir) cfg=$2;; --cert-name) name=$2;; esac; shift; done
case "$FAKE_MODE" in
  issue) live="$cfg/live/$name"; mkdir -p "$live" "$cfg/renewal"
         openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
           -subj "/CN=$name" -keyout "$live/privkey.pem" -out "$live/cert.pem" 2>/dev/null
         cp "$live/cert.pem" "$live/fullchain.pem"
         echo "server = $FAKE_SERVER" >"$cfg/renewal/$name.conf"; echo "Successfully received";;
  keep) echo "Certificate not yet due for renewal";;
  fail) echo "Certbot failed to authenticate some domains (authenticator: webroot)." >&2
        echo "  Detail: 127.0.0.2: Fetching http://x/.well-known/acme-challenge/y: refused" >&2
        exit 1;;
esac
"""
# apache2ctl stub: logs argv; configtest fails when FAKE_CONFIGTEST=fail; graceful rewrites the
# pid file like a master re-reading its config (the reload check then sees a new generation;
# with no ports.conf there is no port to probe)
FAKE_APACHECTL = r"""#!/bin/bash
printf '%s\n' "$*" >>"$FAKE_LOG/apache2ctl.args"
case "$1" in
  configtest) [ "${FAKE_CONFIGTEST:-ok}" = ok ] || { echo "AH00526: Syntax error" >&2; exit 1; };;
  graceful) cat "$FAKE_LOG/apache2.pid" >"$FAKE_LOG/apache2.pid.new"
            mv -f "$FAKE_LOG/apache2.pid.new" "$FAKE_LOG/apache2.pid";;
esac
"""


def stack_for(tmp: Path | None = None, **acme: object) -> StackConfig:
    raw = {**RAW, "acme": {**RAW["acme"], **acme}}
    if tmp is not None:
        raw["acme"] = {**raw["acme"], "configDir": str(tmp / "le"), "webroot": str(tmp / "www")}
    return parse(raw)


def test_one_command_per_tls_host_named_for_the_resource() -> None:
    stack = stack_for()
    cmds = certbot.commands(stack)
    assert [c.name for c in cmds] == ["cert-blog", "cert-api"]
    assert certbot.live_path(stack, stack.sites[0]) == \
        "/etc/letsencrypt/live/blog.example.org/fullchain.pem"
    hook = "/etc/letsencrypt/renewal-hooks/deploy/wpfleet-reload-apache"
    assert certbot.files(stack) == {hook: certbot.DEPLOY_HOOK}
    assert set(certbot.files(stack)) <= set(plan(stack).files)
    no_tls = parse({**RAW, "sites": [RAW["sites"][1]], "backends": []})
    assert certbot.commands(no_tls) == [] and certbot.files(no_tls) == {}


def test_script_text_has_the_required_certbot_options() -> None:
    cmd = certbot.commands(stack_for())[0]
    for opt in ("certonly --webroot", "--non-interactive", "--agree-tos", "--keep-until-expiring",
                "--expand", '--cert-name "$CERT_NAME"', '--server "$SERVER"',
                "swap_served"):
        assert opt in cmd.create, opt
    assert "DOMAINS=(blog.example.org www.blog.example.org)" in cmd.create
    assert "EMAIL=ops+certs@example.org" in cmd.create
    assert cmd.update == cmd.create and cmd.triggers == ("blog.example.org",)
    for text in (cmd.create, cmd.delete or ""):
        subprocess.run(["bash", "-n"], input=text, text=True, check=True)
    assert "certbot revoke" not in (cmd.delete or "")
    # reloads take the lock the Apache conf commands hold
    assert apache_scripts.LOCK.replace("$CONFDIR", "${APACHE_CONFDIR:-/etc/apache2}") in cmd.create
    assert apache_scripts.LOCK.replace("$CONFDIR", "${APACHE_CONFDIR:-/etc/apache2}") \
        in certbot.DEPLOY_HOOK
    revoking = certbot.commands(stack_for(revokeOnDelete=True))[0]
    assert "certbot revoke" in (revoking.delete or "")


@pytest.fixture
def stubs(tmp_path: Path) -> Iterator[dict[str, str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("certbot", FAKE_CERTBOT), ("apache2ctl", FAKE_APACHECTL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    conf = tmp_path / "apache2"
    conf.mkdir()
    (conf / "envvars").write_text(f"export APACHE_PID_FILE={tmp_path}/apache2.pid\n"
                                  f"export APACHE_LOG_DIR={tmp_path}/log\n")
    master = subprocess.Popen(["sleep", "300"])  # stands in for Apache's master process
    (tmp_path / "apache2.pid").write_text(f"{master.pid}\n")
    try:
        yield {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
               "FAKE_LOG": str(tmp_path), "APACHE_CONFDIR": str(conf), "FAKE_SERVER": LETSENCRYPT}
    finally:
        master.kill()
        master.wait()


def run(script: str, env: dict[str, str], mode: str,
        **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], env={**env, "FAKE_MODE": mode, **extra},
                          text=True, capture_output=True, timeout=60)


def ctl_calls(tmp: Path) -> list[str]:
    log = tmp / "apache2ctl.args"
    return log.read_text().splitlines() if log.exists() else []


def served(tmp: Path, domain: str = "blog.example.org") -> Path:
    return tmp / "apache2" / tls.served_rel(domain)


def pubkey(path: Path, kind: str) -> str:
    argv = ["x509", "-noout", "-pubkey"] if kind == "cert" else ["pkey", "-pubout"]
    return subprocess.run(["openssl", *argv, "-in", str(path)], capture_output=True, text=True,
                          check=True, timeout=20).stdout


def test_issue_then_noop_then_failure(tmp_path: Path, stubs: dict[str, str]) -> None:
    stack = stack_for(tmp_path)
    script = certbot.commands(stack)[0].create
    first = run(script, stubs, "issue")
    assert first.returncode == 0, first.stderr
    args = (tmp_path / "certbot.args").read_text().splitlines()
    assert "-d blog.example.org -d www.blog.example.org" in args[0]
    assert f"--config-dir {tmp_path}/le" in args[0] and "--force-renewal" not in args[0]
    assert "changed: certificate blog.example.org issued" in first.stdout
    assert "changed: Apache serves certificate blog.example.org" in first.stdout
    # Apache's copy: certbot's key + full chain in one file, private, swapped in, then reloaded
    live = tmp_path / "le/live/blog.example.org"
    pair = served(tmp_path)
    assert pair.read_bytes() == (live / "privkey.pem").read_bytes() + \
        (live / "fullchain.pem").read_bytes()
    assert pair.stat().st_mode & 0o777 == 0o600
    assert pubkey(pair, "cert") == pubkey(pair, "key")
    assert ctl_calls(tmp_path) == ["configtest", "graceful"]
    hook = Path(certbot.hook_path(stack))
    assert hook.read_text() == certbot.DEPLOY_HOOK and os.access(hook, os.X_OK)
    assert "certbot.timer cannot be checked" in first.stdout  # no systemd here: report only

    again = run(script, stubs, "keep")
    assert again.returncode == 0, again.stderr
    assert "unchanged: certificate blog.example.org" in again.stdout
    assert "verified to match" in again.stdout
    assert not [ln for ln in again.stdout.splitlines() if ln.startswith("changed:")]
    assert ctl_calls(tmp_path) == ["configtest", "graceful"]

    failed = run(script, stubs, "fail")
    assert failed.returncode != 0
    assert "Detail: 127.0.0.2" in failed.stderr and "still served over HTTP" in failed.stderr
    assert ctl_calls(tmp_path) == ["configtest", "graceful"]


def test_a_pair_that_does_not_match_is_never_served(tmp_path: Path,
                                                    stubs: dict[str, str]) -> None:
    """Issue 21 item 2: certbot's live files of two generations (a renewal that died while
    re-pointing its links) never reach Apache; 'unchanged' is only said of a matching pair."""
    script = certbot.commands(stack_for(tmp_path))[0].create
    assert run(script, stubs, "issue").returncode == 0
    good = served(tmp_path).read_bytes()
    key = tmp_path / "le/live/blog.example.org/privkey.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-out", str(key)], check=True, timeout=20)
    broken = run(script, stubs, "keep")
    assert broken.returncode == 1, broken.stdout
    assert "do not match" in broken.stderr and "keeps serving the previous pair" in broken.stderr
    assert "unchanged:" not in broken.stdout
    assert served(tmp_path).read_bytes() == good
    assert ctl_calls(tmp_path) == ["configtest", "graceful"]  # Apache never reloaded


def test_a_new_pair_apache_refuses_is_rolled_back(tmp_path: Path, stubs: dict[str, str]) -> None:
    script = certbot.commands(stack_for(tmp_path))[0].create
    assert run(script, stubs, "issue").returncode == 0
    good = served(tmp_path).read_bytes()
    refused = run(script, stubs, "issue", FAKE_CONFIGTEST="fail")
    assert refused.returncode == 1
    assert "previous pair restored, Apache not reloaded" in refused.stderr
    assert "AH00526" in refused.stderr
    assert served(tmp_path).read_bytes() == good
    assert not list(served(tmp_path).parent.glob(".staged.*"))
    assert not served(tmp_path).with_name("blog.example.org.pem.prev").exists()
    assert ctl_calls(tmp_path) == ["configtest", "graceful", "configtest"]
    # a first certificate that Apache refuses leaves no served copy at all: HTTPS stays off
    other = certbot.commands(stack_for(tmp_path))[1].create
    first = run(other, stubs, "issue", FAKE_CONFIGTEST="fail")
    assert first.returncode == 1 and not served(tmp_path, "api.example.org").exists()


def test_deploy_hook_swaps_a_renewed_pair_or_keeps_the_old(tmp_path: Path,
                                                           stubs: dict[str, str]) -> None:
    stack = stack_for(tmp_path)
    assert run(certbot.commands(stack)[0].create, stubs, "issue").returncode == 0
    old = served(tmp_path).read_bytes()
    hook = certbot.hook_path(stack)
    live = tmp_path / "le/live/blog.example.org"
    env = {**stubs, "RENEWED_LINEAGE": str(live)}
    subprocess.run(["certbot", "--config-dir", str(tmp_path / "le"), "--cert-name",
                    "blog.example.org"], env={**stubs, "FAKE_MODE": "issue"}, check=True,
                   capture_output=True, timeout=60)  # a renewal: new key and certificate
    renewed = subprocess.run(["bash", hook], env=env, capture_output=True, text=True, timeout=60)
    assert renewed.returncode == 0, renewed.stderr
    assert "serves the renewed certificate blog.example.org" in renewed.stdout
    new = served(tmp_path).read_bytes()
    assert new != old and new == (live / "privkey.pem").read_bytes() + \
        (live / "fullchain.pem").read_bytes()
    assert ctl_calls(tmp_path)[-2:] == ["configtest", "graceful"]
    calls = len(ctl_calls(tmp_path))
    # live files of two generations (a renewal that died while re-pointing them): not served
    (live / "privkey.pem").write_bytes(old.split(b"-----BEGIN CERTIFICATE-----")[0])
    refused = subprocess.run(["bash", hook], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "NOT reloading Apache" in refused.stderr
    assert served(tmp_path).read_bytes() == new and len(ctl_calls(tmp_path)) == calls


def test_switching_servers_forces_a_new_certificate(tmp_path: Path, stubs: dict[str, str]) -> None:
    first = run(certbot.commands(stack_for(tmp_path))[0].create, stubs, "issue")
    assert first.returncode == 0, first.stderr
    staging = "https://acme-staging-v02.api.letsencrypt.org/directory"
    switched = run(certbot.commands(stack_for(tmp_path, server=staging))[0].create, stubs, "issue")
    assert switched.returncode == 0, switched.stderr
    last = (tmp_path / "certbot.args").read_text().splitlines()[-1]
    assert f"--server {staging}" in last and "--force-renewal" in last
    assert "ACME server changed" in switched.stdout


def test_delete_keeps_or_revokes(tmp_path: Path, stubs: dict[str, str]) -> None:
    keep = run(certbot.commands(stack_for(tmp_path))[0].delete or "", stubs, "keep")
    assert keep.returncode == 0 and "keeping certificate blog.example.org" in keep.stdout
    assert not (tmp_path / "certbot.args").exists()
    revoke = certbot.commands(stack_for(tmp_path, revokeOnDelete=True))[0].delete or ""
    nothing = run(revoke, stubs, "keep")  # no certificate yet: nothing to revoke, no error
    assert nothing.returncode == 0 and "no certificate blog.example.org" in nothing.stdout
    run(certbot.commands(stack_for(tmp_path))[0].create, stubs, "issue")
    assert served(tmp_path).exists()
    done = run(revoke, stubs, "keep")
    assert done.returncode == 0, done.stderr
    assert "revoke --cert-name blog.example.org" in (tmp_path / "certbot.args").read_text()
    assert not served(tmp_path).exists() and "removed" in done.stdout  # Apache's copy goes too
