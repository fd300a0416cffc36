"""The rendered certbot command: its text, and its logic run against stub certbot/apache2ctl.

The stubs record their arguments, so these tests check what the script asks certbot to do, how
it reacts to success, a no-op and a failure, without a CA. The real flow against pebble is in
tests/integration/test_certbot_real.py.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.config import LETSENCRYPT, StackConfig, parse
from components.render import plan
from components.render.apache import certbot
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

# certbot stub: logs argv; FAKE_MODE=issue writes a new cert.pem, keep leaves it, fail fails
FAKE_CERTBOT = r"""#!/bin/bash
printf '%s\n' "$*" >>"$FAKE_LOG/certbot.args"
cfg=; name=
while [ $# -gt 0 ]; do case "$1" in --config-dir) cfg=$2;; --cert-name) name=$2;; esac; shift; done
case "$FAKE_MODE" in
  issue) mkdir -p "$cfg/live/$name" "$cfg/renewal"; date +%s%N >"$cfg/live/$name/cert.pem"
         echo "server = $FAKE_SERVER" >"$cfg/renewal/$name.conf"; echo "Successfully received";;
  keep) echo "Certificate not yet due for renewal";;
  fail) echo "Certbot failed to authenticate some domains (authenticator: webroot)." >&2
        echo "  Detail: 127.0.0.2: Fetching http://x/.well-known/acme-challenge/y: refused" >&2
        exit 1;;
esac
"""
FAKE_APACHECTL = '#!/bin/bash\nprintf \'%s\\n\' "$*" >>"$FAKE_LOG/apache2ctl.args"\n'


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
                "apache2ctl graceful"):
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
def stubs(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("certbot", FAKE_CERTBOT), ("apache2ctl", FAKE_APACHECTL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (tmp_path / "apache2").mkdir()
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_LOG": str(tmp_path),
            "APACHE_CONFDIR": str(tmp_path / "apache2"),
            "FAKE_SERVER": LETSENCRYPT}


def run(script: str, env: dict[str, str], mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], env={**env, "FAKE_MODE": mode}, text=True,
                          capture_output=True, timeout=30)


def test_issue_then_noop_then_failure(tmp_path: Path, stubs: dict[str, str]) -> None:
    stack = stack_for(tmp_path)
    script = certbot.commands(stack)[0].create
    first = run(script, stubs, "issue")
    assert first.returncode == 0, first.stderr
    args = (tmp_path / "certbot.args").read_text().splitlines()
    assert "-d blog.example.org -d www.blog.example.org" in args[0]
    assert f"--config-dir {tmp_path}/le" in args[0] and "--force-renewal" not in args[0]
    assert "changed: certificate blog.example.org issued" in first.stdout
    assert (tmp_path / "apache2ctl.args").read_text() == "graceful\n"
    hook = Path(certbot.hook_path(stack))
    assert hook.read_text() == certbot.DEPLOY_HOOK and os.access(hook, os.X_OK)
    assert "certbot.timer cannot be checked" in first.stdout  # no systemd here: report only

    again = run(script, stubs, "keep")
    assert again.returncode == 0, again.stderr
    assert "unchanged: certificate blog.example.org" in again.stdout
    assert not [ln for ln in again.stdout.splitlines() if ln.startswith("changed:")]
    assert (tmp_path / "apache2ctl.args").read_text() == "graceful\n"

    failed = run(script, stubs, "fail")
    assert failed.returncode != 0
    assert "Detail: 127.0.0.2" in failed.stderr and "still served over HTTP" in failed.stderr
    assert (tmp_path / "apache2ctl.args").read_text() == "graceful\n"


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
    done = run(revoke, stubs, "keep")
    assert done.returncode == 0, done.stderr
    assert "revoke --cert-name blog.example.org" in (tmp_path / "certbot.args").read_text()
