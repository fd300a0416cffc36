"""Pulumi.prod.yaml shows every optional key commented out; uncommented, the example still renders
with what those keys produce (docs/config.md documents them; test_render_cli renders it as shipped)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from components.config import SECRET_KEYS
from tests.harness import ROOT
from tests.render.test_render_cli import SECRETS

# `  # key: value` under a mapping (not the header's prose, not the secret keys' placeholders)
COMMENTED = re.compile(r"^( +)# ( *(?:wpfleet:)?([A-Za-z]+):(?: |$).*)$")
OPTIONS = {"newPort", "title", "adminUser", "adminEmail", "php", "cronMinutes", "smtp", "host",
           "user", "from", "wpConfig", "wpfleet:backup", "repository", "schedule", "keepDaily",
           "checkSchedule", "checkReadDataSubset"}


def uncommented(text: str) -> tuple[str, set[str]]:
    lines, keys = [], set()
    for line in text.splitlines():
        m = COMMENTED.match(line)
        if m and m.group(3) not in SECRET_KEYS:
            line = m.group(1) + m.group(2)
            key = m.group(2).strip()
            keys.add("wpfleet:" + m.group(3) if key.startswith("wpfleet:") else m.group(3))
        lines.append(line)
    return "\n".join(lines) + "\n", keys


def test_every_commented_option_of_the_example_renders(tmp_path: Path) -> None:
    text, keys = uncommented((ROOT / "Pulumi.prod.yaml").read_text())
    shown = keys | {k for k in OPTIONS if re.search(rf"^ +{re.escape(k)}:", text, re.M)}
    assert shown >= OPTIONS, f"Pulumi.prod.yaml does not show {sorted(OPTIONS - shown)}"
    stack = tmp_path / "Pulumi.s.yaml"
    stack.write_text(text + SECRETS + "  wpfleet:resticPassword:\n    secure: AAABARestic\n"
                     "  wpfleet:smtpPassword:\n    secure: AAABASmtp\n")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "components.render", str(stack), str(out)],
                          cwd=ROOT, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    for rel in ("commands/backup-site-blog.sh", "commands/wp-cron-blog.sh",
                "etc/wpfleet/mail/blog.php", "usr/local/sbin/wpfleet-restore"):
        assert (out / rel).is_file(), rel
    assert "smtp.example.org" in (out / "etc/wpfleet/mail/blog.php").read_text()
