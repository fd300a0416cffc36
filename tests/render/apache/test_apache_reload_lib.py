"""The reload lib's "a new generation is up" check, on real processes (no Apache needed).

A graceful reload keeps the master and lets old children finish: `new_generation` must find one
child started after the reload was sent, whatever old children still run, or the pid file the
master rewrites on each (re)start; it never reads the error log.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from components.render.apache.reload import RELOAD_LIB


def run_lib(tmp: Path, script: str) -> list[str]:
    text = (f"set -euo pipefail\nCONFDIR={tmp}\n{RELOAD_LIB}\nPIDFILE={tmp}/apache2.pid\n"
            f"LOGDIR={tmp}/no-such-dir\n{script}")
    r = subprocess.run(["bash", "-c", text], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


# a "master": an old-generation child that lingers, then (>= 2 s later) one new child
MASTER = ("cd \"$CONFDIR\"; bash -c 'sleep 3 & sleep 2 & touch ready; wait $!; sleep 2 & "
          "touch forked; wait' >/dev/null 2>&1 & M=$!; echo $M > \"$PIDFILE\"\n"
          "until [ -e ready ]; do sleep 0.05; done\n")


def test_one_new_child_is_a_new_generation_old_children_lingering_or_not(tmp_path: Path) -> None:
    out = run_lib(tmp_path, MASTER + """
t=$(now_ticks); s=$(pidfile_stamp)
new_generation "$t" "$s" "$M" && echo early-new || echo early-old
until [ -e forked ]; do sleep 0.05; done
new_generation "$t" "$s" "$M" && echo late-new || echo late-old
new_generation "$t" "$s" 999999999 && echo other-new || echo other-old
kill "$M"
""")
    assert out == ["early-old", "late-new", "other-old"]


def test_a_rewritten_pid_file_is_a_new_generation_and_the_error_log_is_never_read(
        tmp_path: Path) -> None:
    out = run_lib(tmp_path, MASTER + """
t=$(( $(now_ticks) + 100000 )); s=$(pidfile_stamp)
new_generation "$t" "$s" "$M" && echo before-new || echo before-old
sleep 0.05; echo $M > "$PIDFILE"
new_generation "$t" "$s" "$M" && echo rewritten-new || echo rewritten-old
kill "$M"
""")
    assert out == ["before-old", "rewritten-new"]
    assert "error.log" not in RELOAD_LIB.split("recover_apache()")[0]
