"""The test box itself (tests/e2e/box.sh): it must behave like a fresh server, reach nothing but
its own network and Debian's mirror, leave the machine's kernel alone and leave nothing behind.

The tests run in file order on one box: the read-only checks first, then reboot, then the ones
that change the box (apache2, ufw, restic), then stop (a later module gets a fresh box).
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.boxlib import RUN_DIR, Box, BoxManager, iptables_rules, leftovers, run_box_sh, sysctl_changes, sysctls


def tcp_open(address: str, port: int, timeout: float = 3) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def test_start_prints_the_interface_line(box: Box) -> None:
    key = Path(box.key_file)
    assert box.ssh_port == 22
    assert key.is_file() and key.stat().st_mode & 0o077 == 0, "the key must be private (0600)"
    for name in ("WPFLEET_BOX_CA", "WPFLEET_BOX_TEST_CA", "WPFLEET_BOX_DUCKDNS_LOG",
                 "WPFLEET_BOX_SMTP_MAILDIR", "WPFLEET_BOX_KNOWN_HOSTS"):
        assert Path(box.env[name]).exists(), name
    assert box.env["WPFLEET_BOX_SFTP_REPOSITORY"].startswith("sftp:")
    assert "BEGIN CERTIFICATE" in Path(box.env["WPFLEET_BOX_CA"]).read_text()
    print(f"box started in {box.start_seconds:.1f}s")


def test_start_again_prints_the_same_line_and_status_too(box: Box) -> None:
    t0 = time.monotonic()
    again = run_box_sh("start", timeout=60)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == f"{box.address} 22 {box.key_file}"
    assert time.monotonic() - t0 < 10, "start on a running box must not rebuild anything"
    status = run_box_sh("status", timeout=60)
    assert status.returncode == 0 and status.stdout == again.stdout


def test_root_logs_in_with_the_key_on_22_and_nothing_else(box: Box) -> None:
    assert box.ssh("id -u").stdout.strip() == "0"
    # the host key is pinned (StrictHostKeyChecking yes in the ssh config box.sh wrote)
    assert box.env["WPFLEET_BOX_HOST_KEY"].startswith("ssh-ed25519 ")
    no_key = subprocess.run(
        ["ssh", "-o", "BatchMode=yes", "-o", "PubkeyAuthentication=no",
         "-o", f"UserKnownHostsFile={box.env['WPFLEET_BOX_KNOWN_HOSTS']}",
         "-o", "PreferredAuthentications=password,keyboard-interactive",
         f"root@{box.address}", "true"], capture_output=True, text=True, timeout=30, check=False)
    assert no_key.returncode == 255 and "Permission denied (publickey)" in no_key.stderr


def test_systemd_is_pid_1_and_the_system_is_running(box: Box) -> None:
    assert box.ssh("ps -p 1 -o comm=").stdout.strip() == "systemd"
    state = box.ssh("systemctl is-system-running --wait", check=False, timeout=90).stdout.strip()
    failed = box.ssh("systemctl --failed --no-legend --plain", check=False).stdout.strip()
    assert state == "running", f"systemd is {state}; failed units:\n{failed}"
    for unit in ("ssh.service", "docker.service", "wpfleet-box-api.service", "cron.service"):
        assert box.ssh(f"systemctl is-active {unit}", check=False).stdout.strip() == "active", unit
    # timers and `enable` work as on a server
    box.ssh("systemd-run --on-active=1 --timer-property=AccuracySec=100ms"
            " --unit wpfbox-timer-probe touch /root/timer-fired")
    box.ssh("for i in $(seq 150); do [ -e /root/timer-fired ] && exit 0; sleep 0.2; done; exit 1")


def test_kernel_settings_are_read_only_inside_but_net_is_writable(box: Box) -> None:
    ro = box.ssh("echo 1 > /proc/sys/fs/protected_regular", check=False)
    assert ro.returncode != 0 and "Read-only file system" in ro.stderr
    box.ssh("sysctl -w net.ipv4.ip_forward=1 >/dev/null")  # the box's own network namespace
    assert "ro" in box.ssh("findmnt -no OPTIONS /sys").stdout.split(",")


def test_the_box_runs_its_own_dockerd_with_nested_containers(box: Box) -> None:
    info = box.ssh("docker info --format '{{.Driver}} {{.CgroupDriver}}'").stdout.split()
    assert info == ["overlay2", "systemd"]
    # an image made on the box (nothing can be pulled): echo and the C library
    box.ssh("set -e; d=$(mktemp -d); mkdir -p $d/lib/x86_64-linux-gnu $d/lib64;"
            " cp /usr/bin/echo $d/; cp /lib/x86_64-linux-gnu/libc.so.6 $d/lib/x86_64-linux-gnu/;"
            " cp /lib64/ld-linux-x86-64.so.2 $d/lib64/;"
            " tar -C $d -c . | docker import - wpfbox-probe:1 >/dev/null; rm -rf $d")
    out = box.ssh("docker run --rm wpfbox-probe:1 /echo nested-ok; docker rmi -f wpfbox-probe:1"
                  " >/dev/null")
    assert out.stdout.strip() == "nested-ok"


def test_what_wpfleet_installs_itself_is_not_preinstalled(box: Box) -> None:
    assert box.ssh("ufw --version").stdout.startswith("ufw ")
    assert "Status: inactive" in box.ssh("ufw status").stdout
    for pkg in ("apache2", "certbot", "restic"):
        assert box.ssh(f"dpkg -s {pkg}", check=False).returncode != 0, f"{pkg} is preinstalled"


def test_the_stand_in_api_answers_on_loopback_8180(box: Box) -> None:
    out = box.ssh("curl -sf -H 'X-Forwarded-Proto: https' http://127.0.0.1:8180/api/items?x=1")
    answer = json.loads(out.stdout)
    assert answer["path"] == "/api/items" and answer["forwarded"] == {"x-forwarded-proto": "https"}
    assert not tcp_open(box.address, 8180), "the API must listen on the box's loopback only"


def test_names_resolve_to_the_test_network(box: Box) -> None:
    hosts = box.ssh("getent ahostsv4 blog.example.test www.duckdns.org acme.test smtp.test"
                    " backup.test deb.debian.org | awk '$2 == \"STREAM\" {print $3, $1}'")
    got = dict(line.split() for line in hosts.stdout.splitlines())
    gw = box.env["WPFLEET_BOX_DNS"].split(":")[0]
    assert got["blog.example.test"] == box.address  # every other name: the box itself
    assert got["www.duckdns.org"] == got["acme.test"] == got["smtp.test"] == gw
    assert got["deb.debian.org"] == box.env["WPFLEET_BOX_MIRROR"]


def test_apt_works_through_debian_s_mirror(box: Box) -> None:
    box.ssh("DEBIAN_FRONTEND=noninteractive apt-get update -q", timeout=300)
    box.ssh("DEBIAN_FRONTEND=noninteractive apt-get install -y -q hello >/dev/null", timeout=300)
    assert box.ssh("hello").stdout.strip() == "Hello, world!"


def test_the_box_reaches_nothing_else(box: Box) -> None:
    # the machine's end of the link: only the mirror relay's port is open to the box
    gw_link = box.env["WPFLEET_BOX_MIRROR_RELAY"].split(":")[0]
    machine = subprocess.run(["ip", "-4", "-o", "route", "get", "203.0.113.1"],
                             capture_output=True, text=True, check=True).stdout.split()
    machine_ip = machine[machine.index("src") + 1]
    for address, port in ((gw_link, 22), (machine_ip, 80), (box.env["WPFLEET_BOX_MIRROR"], 443)):
        out = box.ssh(f"timeout 10 bash -c 'exec 3<>/dev/tcp/{address}/{port}'", check=False)
        assert out.returncode != 0, f"the box reached {address}:{port}"
        assert "No route to host" in out.stderr, out.stderr  # rejected at once, not timed out


def test_side_services_answer_the_box(box: Box) -> None:
    # the ACME server's API, over TLS the box trusts
    directory = json.loads(box.ssh("curl -sf https://acme.test:14000/dir").stdout)
    assert "newOrder" in directory
    # the fake DuckDNS, at the URL wpfleet uses by default
    assert box.ssh("curl -sf 'https://www.duckdns.org/update?domains=probe&token=t0k&ip='"
                   ).stdout == "OK"
    record = json.loads(Path(box.env["WPFLEET_BOX_DUCKDNS_LOG"]).read_text().splitlines()[-1])
    assert record["query"] == {"domains": "probe", "token": "t0k", "ip": ""}
    assert record["client"] == box.address
    # the SMTP sink, with STARTTLS and AUTH as WordPress's PHPMailer would use it
    box.ssh("python3 -", input=(
        "import smtplib\n"
        "s = smtplib.SMTP('smtp.test', 587, timeout=30); s.starttls(); s.login('wp', 'pw')\n"
        "s.sendmail('wp@blog.test', ['admin@blog.test'], 'Subject: probe\\r\\n\\r\\nhello\\r\\n')\n"
        "s.quit()\n"))
    mails = list((Path(box.env["WPFLEET_BOX_SMTP_MAILDIR"]) / "new").iterdir())
    assert any("Subject: probe" in m.read_text() for m in mails)
    log = json.loads(Path(box.env["WPFLEET_BOX_SMTP_LOG"]).read_text().splitlines()[-1])
    assert log["tls"] is True and log["auth_user"] == "wp" and log["rcpt_to"] == ["admin@blog.test"]
    # the SFTP target takes the box's root key and refuses a shell
    user_host, path = box.env["WPFLEET_BOX_SFTP_REPOSITORY"].removeprefix("sftp:").split(":", 1)
    base = path.rsplit("/", 1)[0]
    out = box.ssh(f"echo 'ls -la {base}' | sftp -b - {user_host}")
    assert base in out.stdout
    shell = box.ssh(f"ssh {user_host} id", check=False)
    assert "uid=" not in shell.stdout


def test_sites_are_reached_from_the_machine_at_the_box_address(box: Box) -> None:
    # nothing listens on 80 yet (wpfleet installs Apache); a server on the box is reached
    # directly, with no port mapping in between
    box.ssh("systemd-run --unit wpfbox-http-probe python3 -m http.server 8081 --bind 0.0.0.0"
            " --directory /etc")
    for _ in range(50):
        if tcp_open(box.address, 8081):
            break
        time.sleep(0.2)
    with urllib.request.urlopen(f"http://{box.address}:8081/hostname", timeout=10) as r:
        assert r.read().decode().strip() == "wpfleet-box"
    box.ssh("systemctl stop wpfbox-http-probe")


def test_reboot_comes_back_with_state_kept(box: Box) -> None:
    box.ssh("touch /root/survives-reboot /run/gone-after-reboot")
    t0 = time.monotonic()
    box.ssh("systemctl reboot", check=False, timeout=30)
    deadline = time.monotonic() + 120
    while box.ssh("test -e /run/gone-after-reboot", check=False, timeout=15).returncode != 1:
        assert time.monotonic() < deadline, "the box did not reboot"
        time.sleep(0.5)
    box.wait_ssh()
    print(f"reboot: ssh back in {time.monotonic() - t0:.1f}s")
    box.ssh("test -e /root/survives-reboot")
    state = box.ssh("systemctl is-system-running --wait", check=False, timeout=90).stdout.strip()
    assert state == "running", box.ssh("systemctl --failed", check=False).stdout
    assert box.ssh("docker info --format '{{.Driver}}'").stdout.strip() == "overlay2"


def test_restarting_the_container_is_a_power_cycle_with_state_kept(box: Box) -> None:
    box.ssh("touch /root/survives-restart /run/gone-after-restart")
    t0 = time.monotonic()
    box.docker("restart", "wpfbox")
    box.wait_ssh()
    print(f"docker restart: ssh back in {time.monotonic() - t0:.1f}s")
    box.ssh("test -e /root/survives-restart && ! test -e /run/gone-after-restart")
    state = box.ssh("systemctl is-system-running --wait", check=False, timeout=90).stdout.strip()
    assert state == "running", box.ssh("systemctl --failed", check=False).stdout


def test_the_machine_s_sysctls_are_untouched_while_the_box_runs(
        box: Box, box_manager: BoxManager) -> None:
    assert sysctl_changes(box_manager.sysctls_before, sysctls()) == []


# ----- from here on the box is changed: these run last, then the box is stopped

def test_apt_installs_apache2_and_the_machine_reaches_it(box: Box) -> None:
    t0 = time.monotonic()
    box.ssh("DEBIAN_FRONTEND=noninteractive apt-get install -y -q apache2 >/dev/null",
            timeout=600)
    print(f"apt-get install apache2 on the box: {time.monotonic() - t0:.1f}s")
    assert box.ssh("systemctl is-active apache2").stdout.strip() == "active"
    with urllib.request.urlopen(f"http://{box.address}/", timeout=10) as r:
        assert r.status == 200


def test_certbot_on_the_box_gets_a_certificate_by_http_01(box: Box) -> None:
    """pebble validates through the box's Apache; the machine trusts the result with ca.pem."""
    box.ssh("DEBIAN_FRONTEND=noninteractive apt-get install -y -q certbot >/dev/null", timeout=300)
    box.ssh(f"certbot certonly -n --agree-tos -m admin@blog.test --server "
            f"{box.env['WPFLEET_BOX_ACME_DIR']} --webroot -w /var/www/html -d blog.test"
            " >/dev/null", timeout=300)
    box.ssh("a2enmod -q ssl && a2ensite -q default-ssl && sed -i"
            " -e 's#/etc/ssl/certs/ssl-cert-snakeoil.pem#/etc/letsencrypt/live/blog.test/fullchain.pem#'"
            " -e 's#/etc/ssl/private/ssl-cert-snakeoil.key#/etc/letsencrypt/live/blog.test/privkey.pem#'"
            " /etc/apache2/sites-available/default-ssl.conf && systemctl reload apache2")
    for _ in range(40):  # the reload opens 443 a moment later
        curl = subprocess.run(
            ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert",
             box.env["WPFLEET_BOX_CA"], "--resolve", f"blog.test:443:{box.address}",
             "https://blog.test/"], capture_output=True, text=True, timeout=60, check=False)
        if curl.stdout != "000":
            break
        time.sleep(0.5)
    assert curl.stdout == "200", curl.stderr


def test_ufw_inside_really_blocks_the_port_from_outside(box: Box) -> None:
    assert tcp_open(box.address, 80)
    box.ssh("ufw allow 22/tcp >/dev/null && ufw deny 80/tcp >/dev/null"
            " && ufw --force enable >/dev/null")
    try:
        assert not tcp_open(box.address, 80), "ufw deny 80 did not block the port"
        assert box.ssh("true", check=False).returncode == 0, "ssh must still work"
    finally:
        box.ssh("ufw --force disable >/dev/null", check=False)
    assert tcp_open(box.address, 80)


def test_restic_backs_up_to_the_sftp_target(box: Box) -> None:
    repo = box.env["WPFLEET_BOX_SFTP_REPOSITORY"]
    box.ssh("DEBIAN_FRONTEND=noninteractive apt-get install -y -q restic >/dev/null", timeout=300)
    box.ssh(f"export RESTIC_PASSWORD=probe RESTIC_REPOSITORY={repo};"
            " restic init >/dev/null && restic backup -q /etc/hostname"
            " && restic snapshots --json", timeout=300)
    name = repo.rsplit("/", 1)[1]
    assert (Path(box.env["WPFLEET_BOX_SFTP_DIR"]) / name / "config").is_file()


def test_stop_removes_everything_and_the_kernel_is_as_before(box_manager: BoxManager) -> None:
    if box_manager.box is None:
        pytest.skip("no box was started in this session")
    proc = box_manager.stop()
    assert proc.returncode == 0, proc.stderr
    assert leftovers() == []
    assert sysctl_changes(box_manager.sysctls_before, sysctls()) == []
    assert iptables_rules() == box_manager.iptables_before


def test_stop_after_everything_was_killed_leaves_nothing(box_manager: BoxManager) -> None:
    """As when a session ends: every process box.sh started is killed, the box's own run on
    under their shims; stop must still find and remove all of it."""
    box_manager.ensure()
    for pidfile in Path(RUN_DIR / "pids").glob("*.pid"):
        subprocess.run(["kill", "-KILL", pidfile.read_text().strip()], check=False)
    time.sleep(1)
    proc = box_manager.stop()
    assert proc.returncode == 0, proc.stderr
    assert leftovers() == []
    assert sysctl_changes(box_manager.sysctls_before, sysctls()) == []
