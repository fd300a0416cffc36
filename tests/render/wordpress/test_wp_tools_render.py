"""The box tools run by bash for real: against a stand-in `docker` that records every argv,
a scratch root for the installs, a stand-in systemctl, and logrotate/systemd's own checkers."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.config import StackConfig, parse
from components.render import plan
from components.render.wordpress import tools as wp_tools

SECRET = "dbS3cretValue"
SMTP_SECRET = "smtpS3cretValue"
# inspect: replicas 0..2 of blog exist; ps: the site's containers; logs: one line per container
FAKE_DOCKER = f"""#!/bin/bash
printf '%s\\n' "$*" >> "$LOG"
case "$1" in
  inspect)
    case "${{@: -1}}" in wpfleet-blog-wp-[0-2]) ;; *) exit 1 ;; esac
    case "$*" in
      *split*) printf "WORDPRESS_CONFIG_EXTRA=define('WP_HOME', 'x');\\n" ;;
      *--format*) printf '%s\\n' WORDPRESS_DB_PASSWORD={SECRET} WPFLEET_SMTP_PASSWORD={SMTP_SECRET} ;;
    esac ;;
  ps) printf '%s\\n' wpfleet-blog-wp-1 wpfleet-blog-db wpfleet-blog-wp-0 ;;
  logs) echo "log line of ${{@: -1}}" ;;
  run) echo "ran wp" ;;
esac
"""
STACK = {"box": {"host": "local"}, "acme": {"email": "a@example.org"}, "sites": [
    {"name": "blog", "domain": "blog.example.org", "port": 8082, "replicas": 3, "tls": False,
     "cronMinutes": 2},
    {"name": "shop", "domain": "shop.example.org", "port": 8090, "tls": False, "cronMinutes": 0}]}


def stack() -> StackConfig:
    return parse(STACK)


@pytest.fixture
def fake(tmp_path: Path) -> dict[str, Any]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    systemctl = bin_dir / "systemctl"  # records calls; "is-active"/"is-enabled" say no
    systemctl.write_text('#!/bin/bash\nprintf "%s\\n" "$*" >> "$SYSTEMCTL_LOG"\n'
                         'case "$1" in is-active|is-enabled) exit 3 ;; esac\n')
    systemctl.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "LOG": str(tmp_path / "argv"),
           "SYSTEMCTL": str(systemctl), "SYSTEMCTL_LOG": str(tmp_path / "systemctl"),
           "WPFLEET_ROOT": str(tmp_path / "root"), "APACHE_LOG_DIR": str(tmp_path / "logs")}
    return {"env": env, "root": tmp_path / "root", "tmp": tmp_path}


def bash(text: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", text, "script", *args], capture_output=True, text=True,
                          env=env, timeout=60)


def argv(fake: dict[str, Any]) -> str:
    log = fake["tmp"] / "argv"
    return log.read_text() if log.exists() else ""


def test_wpfleet_wp_passes_every_argument_and_no_secret(fake: dict[str, Any]) -> None:
    out = bash(wp_tools.wp_script(), fake["env"], "blog", "search-replace",
               "http://old.example.org", "https://blog.example.org", "--dry-run")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "ran wp\n"
    run = [line for line in argv(fake).splitlines() if line.startswith("run ")]
    assert len(run) == 1
    assert run[0].endswith(" wp search-replace http://old.example.org https://blog.example.org "
                           "--dry-run")
    assert SECRET not in argv(fake) and SMTP_SECRET not in argv(fake)


@pytest.mark.parametrize("bad", ["", "Blog", "blog;id", "../x", "-h"])
def test_wpfleet_wp_refuses_a_bad_site_name_before_docker(fake: dict[str, Any], bad: str) -> None:
    out = bash(wp_tools.wp_script(), fake["env"], bad, "plugin", "list")
    assert out.returncode == 2
    assert "is not a wpfleet site name; usage: wpfleet-wp SITE ARGS..." in out.stderr
    assert argv(fake) == ""


def test_cron_runs_due_events_once_per_site_not_per_replica(fake: dict[str, Any]) -> None:
    s = stack()
    units = wp_tools.cron_units(s.sites[0])
    timer = units["/etc/systemd/system/wpfleet-cron-blog.timer"]
    service = units["/etc/systemd/system/wpfleet-cron-blog.service"]
    assert "OnCalendar=*:0/2\n" in timer
    assert f"ExecStart={wp_tools.CRON_RUNNER} blog\n" in service
    # the whole box: one timer per site with cron, none for cronMinutes: 0, none per replica
    timers = [p for p in plan(s).files if p.endswith(".timer") and "wpfleet-cron" in p]
    assert timers == ["/etc/systemd/system/wpfleet-cron-blog.timer"]
    out = bash(wp_tools.cron_runner(), fake["env"], "blog")
    assert out.returncode == 0, out.stderr
    runs = [line for line in argv(fake).splitlines() if line.startswith("run ")]
    assert len(runs) == 1 and runs[0].endswith(" wp cron event run --due-now")
    assert "--volumes-from wpfleet-blog-wp-0" in runs[0]
    assert SECRET not in argv(fake)


def test_cron_runner_fails_loudly_for_a_missing_site(fake: dict[str, Any]) -> None:
    out = bash(wp_tools.cron_runner(), fake["env"], "gone")
    assert out.returncode == 1
    assert out.stderr == ("wpfleet: no WordPress container of site 'gone' found:"
                          " is site 'gone' deployed on this box?\n")


def test_wpfleet_logs_shows_apache_logs_then_containers(fake: dict[str, Any]) -> None:
    logs = fake["tmp"] / "logs"
    logs.mkdir()
    (logs / "wpfleet-blog-access_log").write_text("".join(f"GET /{i}\n" for i in range(10)))
    (logs / "wpfleet-shop-access_log").write_text("GET /other-site\n")
    out = bash(wp_tools.logs_script(), fake["env"], "blog", "-n", "3")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "GET /7\nGET /8\nGET /9\n" in text and "GET /6" not in text
    assert "other-site" not in text
    assert f"==> {logs}/wpfleet-blog-error_log <==\n(no such log yet)" in text
    order = [text.index(f"==> container wpfleet-blog-{c} <==\nlog line of wpfleet-blog-{c}")
             for c in ("db", "wp-0", "wp-1")]
    assert order == sorted(order) and text.index("access_log") < order[0]
    assert "ps -a --filter label=org.wpfleet.site=blog" in argv(fake)
    assert "logs --tail 3 --timestamps wpfleet-blog-wp-0" in argv(fake)


def test_wpfleet_logs_usage_errors(fake: dict[str, Any]) -> None:
    bad_n = bash(wp_tools.logs_script(), fake["env"], "blog", "-n", "x; rm")
    assert bad_n.returncode == 2 and "-n wants a number" in bad_n.stderr
    assert bash(wp_tools.logs_script(), fake["env"], "blog", "--bogus").returncode == 2


def test_install_commands_are_idempotent_and_delete_cleanly(fake: dict[str, Any]) -> None:
    s = stack()
    env, root = fake["env"], fake["root"]
    cmds = {c.name: c for c in wp_tools.commands(s)}
    assert list(cmds) == ["wp-tools", "wp-site-blog", "wp-cron-blog", "wp-site-shop"]
    for cmd in cmds.values():
        first = bash(cmd.create, env)
        assert first.returncode == 0, first.stderr
        assert "wrote" in first.stdout
    for path, content in wp_tools.files(s).items():  # exactly what the render CLI shows
        assert (root / path.lstrip("/")).read_text() == content, path
        assert plan(s).files[path] == content
    wp_bin = root / wp_tools.WP_BIN.lstrip("/")
    assert oct(wp_bin.stat().st_mode & 0o777) == "0o755"
    ini = root / "etc/wpfleet/php/blog.ini"
    assert oct(ini.stat().st_mode & 0o777) == "0o644" and ini.stat().st_uid == 0
    calls = (fake["tmp"] / "systemctl").read_text()
    assert "daemon-reload" in calls and "enable --now wpfleet-cron-blog.timer" in calls
    assert "wpfleet-cron-shop" not in calls
    # second run: nothing rewritten
    for cmd in cmds.values():
        again = bash(cmd.update or cmd.create, env)
        assert again.returncode == 0 and "wrote" not in again.stdout, again.stdout
        assert "no change" in again.stdout or "started" in again.stdout
    for cmd in cmds.values():
        assert cmd.delete is not None
        gone = bash(cmd.delete, env)
        assert gone.returncode == 0, gone.stderr
        assert bash(cmd.delete, env).returncode == 0  # nothing left: still fine
    assert [p for p in root.rglob("*") if p.is_file()] == []
    assert "disable --now wpfleet-cron-blog.timer" not in calls  # stub said "not enabled"


def test_every_script_is_strict_bash_that_parses() -> None:
    for cmd in wp_tools.commands(stack()):
        for text in filter(None, (cmd.create, cmd.update, cmd.delete)):
            assert text.startswith("#!/bin/bash\nset -euo pipefail\n"), cmd.name
            assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0
    for text in wp_tools.tools_files().values():
        if text.startswith("#!"):
            assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze missing: apt-get install systemd")
    runner = tmp_path / "wp-cron"
    runner.write_text(wp_tools.cron_runner())
    runner.chmod(0o755)
    names = []
    for path, text in wp_tools.cron_units(stack().sites[0]).items():
        unit = tmp_path / Path(path).name
        unit.write_text(text.replace(wp_tools.CRON_RUNNER, str(runner)))
        names.append(str(unit))
    out = subprocess.run(["systemd-analyze", "verify", "--man=no", *names],
                         capture_output=True, text=True, timeout=60)
    problems = [line for line in out.stderr.splitlines()
                if "wpfleet-cron" in line and "docker.service" not in line]
    assert problems == [], out.stderr


def test_logrotate_takes_wpfleet_logs_without_clashing_with_debians(tmp_path: Path) -> None:
    if shutil.which("logrotate") is None:
        pytest.skip("logrotate missing: apt-get install logrotate")
    logs = tmp_path / "apache2"
    logs.mkdir()
    for name in ("wpfleet-blog-access_log", "wpfleet-api-error_log", "other_vhosts_access.log",
                 "error.log"):
        (logs / name).write_text("x\n")
    confd = tmp_path / "logrotate.d"
    confd.mkdir()
    debian = Path("/etc/logrotate.d/apache2")
    debian_text = (debian.read_text() if debian.exists()
                   else "/var/log/apache2/*.log {\n  daily\n  rotate 14\n}\n")
    (confd / "apache2").write_text(debian_text.replace("/var/log/apache2", str(logs)))
    (confd / "wpfleet-apache").write_text(
        wp_tools.logrotate_conf().replace("/var/log/apache2", str(logs)))
    main = tmp_path / "logrotate.conf"
    main.write_text(f"include {confd}\n")
    out = subprocess.run(["logrotate", "-d", "-f", "-s", str(tmp_path / "state"), str(main)],
                         capture_output=True, text=True, timeout=60)
    text = out.stdout + out.stderr
    # a duplicate entry (both confs claiming a file) is an "error:" line and rc 1
    assert out.returncode == 0 and "error:" not in text, text
    wpfleet_part = text.split(f"rotating pattern: {logs}/wpfleet-*_log")[1].split(
        "rotating pattern:")[0]
    assert f"considering log {logs}/wpfleet-blog-access_log" in wpfleet_part
    assert f"considering log {logs}/wpfleet-api-error_log" in wpfleet_part
    assert "error.log" not in wpfleet_part  # Debian's own logs stay Debian's
    assert "14 rotations" in wpfleet_part


def test_wpfleet_wp_gets_a_tty_only_from_a_terminal(fake: dict[str, Any]) -> None:
    if shutil.which("script") is None:
        pytest.skip("script missing: apt-get install bsdutils")
    tool = fake["tmp"] / "wpfleet-wp"
    tool.write_text(wp_tools.wp_script())
    tool.chmod(0o755)
    # `script` runs it on a pseudo-terminal, as an operator's ssh session would
    subprocess.run(["script", "-qec", f"{tool} blog shell", "/dev/null"], env=fake["env"],
                   capture_output=True, timeout=60, check=True)
    subprocess.run([str(tool), "blog", "option", "list"], env=fake["env"], capture_output=True,
                   timeout=60, check=True, stdin=subprocess.DEVNULL)
    runs = [line for line in argv(fake).splitlines() if line.startswith("run ")]
    assert runs[0].startswith("run --rm -i -t ") and runs[0].endswith(" wp shell")
    assert runs[1].startswith("run --rm -i --user") and runs[1].endswith(" wp option list")


def test_wpfleet_logs_follow_prefixes_container_lines(fake: dict[str, Any]) -> None:
    logs = fake["tmp"] / "logs"
    logs.mkdir()
    (logs / "wpfleet-blog-access_log").write_text("GET /old\nGET /new\n")
    tool = fake["tmp"] / "wpfleet-logs"
    tool.write_text(wp_tools.logs_script())
    tool.chmod(0o755)
    # follows until interrupted: stop it after a moment, as Ctrl-C would (SIGINT)
    out = subprocess.run(["timeout", "-s", "INT", "3", str(tool), "blog", "-f", "-n", "1"],
                         env=fake["env"], capture_output=True, text=True, timeout=30)
    assert "GET /new" in out.stdout and "GET /old" not in out.stdout
    assert "[wpfleet-blog-wp-0] log line of wpfleet-blog-wp-0" in out.stdout
    assert "logs -f --tail 1 wpfleet-blog-db" in argv(fake)


@pytest.mark.parametrize(("installed", "rc"), [(False, 0), (True, 1)])
def test_cron_runner_failure_is_only_excused_before_install(
        fake: dict[str, Any], installed: bool, rc: int) -> None:
    docker = Path(fake["env"]["PATH"].split(":")[0]) / "docker"
    # wp fails for `cron`; `core is-installed` answers as WordPress would
    docker.write_text(FAKE_DOCKER.replace('run) echo "ran wp" ;;', f'''run)
    case "$*" in *"core is-installed"*) exit {0 if installed else 1} ;; *) exit 1 ;; esac ;;'''))
    out = bash(wp_tools.cron_runner(), fake["env"], "blog")
    assert out.returncode == rc, out.stderr
    assert ("not installed yet" in out.stdout) == (not installed)
