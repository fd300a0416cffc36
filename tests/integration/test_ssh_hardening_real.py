"""The hardened sshd drop-in against a real sshd: ssh-audit's hardened policy, parallel sessions,
and the host-key pin produced by the exact `ssh-keyscan` line the docs and errors give.

Policy: ssh-audit's built-in "Hardened OpenSSH Server v8.7 (version 1)" (the newest this
ssh-audit ships) plus `kex-strict-s-v00@openssh.com`, the Terrapin countermeasure marker that
every patched OpenSSH appends to its key exchanges (newer ssh-audit policies list it too).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.config import parse
from components.config.checks import keyscan_hint
from components.render.box.ssh import drop_in
from tests.harness import HOST_KEY
from tests.integration.sshd_env import SshdEnv, require_ssh

pytestmark = pytest.mark.integration
PORT = 22225
POLICY = """\
name = "wpfleet: Hardened OpenSSH Server v8.7 (version 1) + strict KEX marker"
version = 1
host keys = rsa-sha2-512, rsa-sha2-256, ssh-ed25519
optional host keys = sk-ssh-ed25519@openssh.com, ssh-ed25519-cert-v01@openssh.com, \
sk-ssh-ed25519-cert-v01@openssh.com, rsa-sha2-256-cert-v01@openssh.com, \
rsa-sha2-512-cert-v01@openssh.com
key exchanges = curve25519-sha256, curve25519-sha256@libssh.org, diffie-hellman-group16-sha512, \
diffie-hellman-group18-sha512, diffie-hellman-group-exchange-sha256, kex-strict-s-v00@openssh.com
ciphers = chacha20-poly1305@openssh.com, aes256-gcm@openssh.com, aes128-gcm@openssh.com, \
aes256-ctr, aes192-ctr, aes128-ctr
macs = hmac-sha2-256-etm@openssh.com, hmac-sha2-512-etm@openssh.com, umac-128-etm@openssh.com
hostkey_size_rsa-sha2-256 = 4096
hostkey_size_rsa-sha2-512 = 4096
dh_modulus_size_diffie-hellman-group-exchange-sha256 = 2048
"""


def stack_conf() -> str:
    return drop_in(parse({"box": {"host": "box.example.org", "port": PORT, "hardenSsh": True,
                                  "hostKey": HOST_KEY}}))


@pytest.fixture
def hardened(tmp_path: Path) -> Iterator[SshdEnv]:
    require_ssh()
    if shutil.which("ssh-audit") is None:
        pytest.skip("ssh-audit missing: apt-get install ssh-audit")
    with SshdEnv(tmp_path, port=PORT) as env:
        # the host keys a hardened box has: ed25519 (the pinned one) and RSA 4096
        rsa = env.dir / "host_rsa"
        subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "4096", "-N", "", "-f", str(rsa)],
                       check=True, timeout=120)
        (env.drop_in_dir / "00-wpfleet.conf").write_text(stack_conf())
        env.write_config()
        # the order of a stock sshd_config (RSA first, then ed25519): ssh-audit's policy
        # compares the offered host key list in order
        text = env.config.read_text()
        env.config.write_text(text.replace(f"HostKey {env.host_key}\n",
                                           f"HostKey {rsa}\nHostKey {env.host_key}\n"))
        env.start(port_flag=False)
        yield env


def test_drop_in_passes_ssh_audit_hardened_policy(hardened: SshdEnv, tmp_path: Path) -> None:
    policy = tmp_path / "policy.txt"
    policy.write_text(POLICY)
    out = subprocess.run(["ssh-audit", "-n", "-P", str(policy), "-p", str(PORT), "127.0.0.1"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Passed" in out.stdout
    effective = subprocess.run(["/usr/sbin/sshd", "-T", "-f", str(hardened.config)],
                               capture_output=True, text=True, timeout=30, check=True).stdout
    for want in ("x11forwarding no", "allowagentforwarding no", "maxauthtries 3",
                 "logingracetime 30", "passwordauthentication no",
                 "authenticationmethods publickey"):
        assert want in effective.splitlines(), want
    assert hardened.auth_methods() == "publickey"


def test_parallel_sessions_still_connect(hardened: SshdEnv) -> None:
    """Pulumi runs commands in parallel (a connection each) while the Docker provider
    multiplexes many sessions over one master: none may be refused."""
    cm = Path(tempfile.mkdtemp(prefix="wpf-cm-", dir="/tmp"))
    mux = ["-o", "ControlMaster=auto", "-o", f"ControlPath={cm}/%C", "-o", "ControlPersist=30"]
    results: list[int] = []
    lock = threading.Lock()

    def one(opts: list[str]) -> None:
        done = subprocess.run([*hardened.ssh_args("root", *opts), "sleep 2; echo ok"],
                              capture_output=True, text=True, timeout=120)
        with lock:
            results.append(done.returncode if done.stdout.strip() == "ok" else 99)

    try:
        assert hardened.ssh("true", "", *mux).returncode == 0  # the master
        threads = [threading.Thread(target=one, args=(mux,)) for _ in range(25)]
        threads += [threading.Thread(target=one, args=([],)) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [0] * 45, results
    finally:
        subprocess.run([*hardened.ssh_args("root", *mux, "-O", "exit")], capture_output=True,
                       timeout=30, check=False)
        shutil.rmtree(cm, ignore_errors=True)


def test_keyscan_line_from_the_docs_yields_an_accepted_pin(hardened: SshdEnv) -> None:
    hint = keyscan_hint("127.0.0.1", PORT)
    value = subprocess.run(["bash", "-c", hint], capture_output=True, text=True, timeout=60,
                           check=True).stdout.strip()
    host_pub = " ".join(Path(f"{hardened.host_key}.pub").read_text().split()[:2])
    assert value == host_pub
    stack = parse({"box": {"host": "127.0.0.1", "port": PORT, "hostKey": value}})
    assert stack.box.host_key == host_pub
    # the bare ssh-keyscan output (host in front, its "# host SSH-2.0" comment on stderr or
    # pasted too) is accepted and normalised to the same pin (issue 22 item 8)
    bare = subprocess.run(["ssh-keyscan", "-p", str(PORT), "-t", "ed25519", "127.0.0.1"],
                          capture_output=True, text=True, timeout=60)
    for pasted in (bare.stdout.strip(), bare.stderr + bare.stdout):
        stack = parse({"box": {"host": "127.0.0.1", "port": PORT, "hostKey": pasted}})
        assert stack.box.host_key == host_pub
