"""The render CLI for a first-timer (issue 22 item 6): --help, a closed pipe, a short summary,
--diff against the last render, and --without-secrets before any secret is set."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from components.render import summary
from tests.harness import ROOT
from tests.render.test_render_cli import example


def render(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "components.render", *args], cwd=ROOT,
                          capture_output=True, text=True, check=False, timeout=120)


def test_help_explains_and_exits_0() -> None:
    done = render("--help")
    assert done.returncode == 0 and "usage: python -m components.render" in done.stdout
    for words in ("STACK_FILE", "OUT_DIR", "--diff", "--without-secrets", "secure:"):
        assert words in done.stdout, words


def test_the_summary_names_sites_certificates_ports_timers_and_resources(tmp_path: Path) -> None:
    done = render(str(example(tmp_path)), str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert len(out) < 25 and not any(line.startswith("  /") for line in out)  # no file list
    assert "site      blog: blog.example.org, www.blog.example.org (2 replicas, https, " \
           "wordpress:6.8.3-php8.3-apache)" in out
    assert any(line.startswith("cert      blog.example.org, www.blog.example.org") for line in out)
    assert any(line.startswith("ports     Apache 80/443; SSH ") for line in out)
    assert "loopback  127.0.0.1:8082-8083, 8090 (containers)" in out
    assert "timer     wpfleet-cron-blog.timer: OnCalendar=*:0/5" in out
    resources = next(line for line in out if line.startswith("resources "))
    assert "Container" in resources and "(plan/resources.yaml)" in resources
    assert out[-1] == "first render in this directory"
    listed = render("--list", str(example(tmp_path)), str(tmp_path / "out"))
    assert any(line.startswith("  ") and line.endswith("wpfleet-blog.conf")
               for line in listed.stdout.splitlines())
    assert listed.stdout.splitlines()[-1] == "unchanged since the last render"


def test_diff_shows_what_changed_since_the_last_render(tmp_path: Path) -> None:
    stack = example(tmp_path)
    assert render(str(stack), str(tmp_path / "out")).returncode == 0
    stack.write_text(stack.read_text().replace("replicas: 2", "replicas: 3", 1))
    brief = render(str(stack), str(tmp_path / "out"))
    assert "since the last render: " in brief.stdout and "(--diff shows them)" in brief.stdout
    stack.write_text(stack.read_text().replace("replicas: 3", "replicas: 4", 1))
    full = render("--diff", str(stack), str(tmp_path / "out"))
    assert "--- before/etc/apache2/sites-available/wpfleet-blog.conf" in full.stdout
    assert "+    BalancerMember http://127.0.0.1:8085 route=r3" in full.stdout


def test_a_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "components.render", "--list", str(example(tmp_path)),
            str(tmp_path / "out")]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()  # like `| head -1`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_without_secrets_renders_and_lists_what_up_will_need(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.new.yaml"
    stack.write_text((ROOT / "Pulumi.prod.yaml").read_text())  # no secret set yet
    refused = render(str(stack), str(tmp_path / "out"))
    assert refused.returncode == 1
    assert "note: to see the render before the secrets are set, add --without-secrets" \
        in refused.stderr
    done = render("--without-secrets", str(stack), str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "note: " in done.stderr and "wpfleet:sshPrivateKey: is required by this stack" \
        in done.stderr
    assert (tmp_path / "out/etc/apache2/sites-available/wpfleet-blog.conf").is_file()
    # other problems still stop it
    stack.write_text(stack.read_text().replace("replicas: 2", "replicas: 0", 1))
    bad = render("--without-secrets", str(stack), str(tmp_path / "out2"))
    assert bad.returncode == 1 and "replicas" in bad.stderr


def test_changes_and_port_ranges() -> None:
    assert summary.changes({}, {"a": "1"}, False) == ["first render in this directory"]
    assert summary.changes({"a": "1"}, {"a": "1"}, True) == ["unchanged since the last render"]
    lines = summary.changes({"a": "1", "b": "x"}, {"a": "2", "c": "y"}, True)
    assert lines[0] == "since the last render: 1 changed, 1 added, 1 removed"
    assert "+ c" in lines and "- b" in lines and "-1" in lines and "+2" in lines
    assert summary._ranges([8090, 8082, 8083, 8084, 9000]) == "8082-8084, 8090, 9000"
