"""The firewall's per-address connection cap on Apache's ports, for real (ufw in a netns).

Same set-up as test_firewall_netns.py (its `netns` fixture): one client address may hold at
most CONN_CAP connections to ports 80/443; the next is reset; other ports are not capped.
"""

from __future__ import annotations

import json
import sys

from components.config import parse
from components.render.box.firewall import CAP_BEGIN, CONN_CAP, firewall
from tests.harness import HOST_KEY
from tests.integration.test_firewall_netns import (  # noqa: F401  (the fixture)
    BOX_IP,
    SSH_PORT,
    Netns,
    netns,
    pytestmark,
    sh,
)

# opens N connections one after another and keeps them all open; prints how many connected
HOLD = """
import json, socket, sys
held, ok, refused = [], 0, 0
for _ in range(int(sys.argv[3])):
    try:
        held.append(socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)); ok += 1
    except OSError:
        refused += 1
print(json.dumps({"ok": ok, "refused": refused}))
"""


def hold(ns: Netns, port: int, n: int) -> dict[str, int]:
    out = sh("ip", "netns", "exec", ns.client, sys.executable, "-c", HOLD, BOX_IP, str(port),
             str(n))
    return json.loads(out.stdout)


def test_one_address_cannot_hold_more_than_the_cap(netns: Netns) -> None:  # noqa: F811
    cmd = firewall(parse({"box": {"host": "box.example.org", "port": SSH_PORT, "hostKey": HOST_KEY},
                          "firewall": {"enabled": True}}))
    assert cmd.delete is not None
    first = netns.run_script(cmd.create)
    assert first.returncode == 0, first.stderr
    assert "connection cap" in first.stdout
    assert hold(netns, 80, CONN_CAP + 20) == {"ok": CONN_CAP, "refused": 20}
    assert hold(netns, SSH_PORT, CONN_CAP + 20)["ok"] == CONN_CAP + 20  # SSH is not capped
    rules = (netns.tmp / "etc-ufw" / "before.rules").read_text()
    assert rules.count(CAP_BEGIN) == 1 and rules.index(CAP_BEGIN) < rules.index("\nCOMMIT")
    again = netns.run_script(cmd.create)
    assert "connection cap" not in again.stdout and "no change" in again.stdout
    gone = netns.run_script(cmd.delete)
    assert gone.returncode == 0 and "connection cap removed" in gone.stdout, gone.stderr
    assert CAP_BEGIN not in (netns.tmp / "etc-ufw" / "before.rules").read_text()
