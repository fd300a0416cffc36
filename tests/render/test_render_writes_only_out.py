"""The render CLI writes nothing outside its output directory (issue 22, item 1).

Before, the program it runs under mocks wrote the masked SSH key (`****`) over the real
`~/.wpfleet/id-*` of the passwd entry's home, breaking the next real `up`. The render runs
here in a subprocess with an audit hook that *refuses* (raises before the call) any write,
rename, removal or directory creation outside OUT_DIR and the render's own temporary
directory, so a regression fails this test without touching a real key; the temporary
directory must be empty afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.render.test_golden_render import ROOT, stack_file

HOOK = r'''
import os, sys, runpy
allowed = [os.path.realpath(p) for p in sys.argv[1:3]]
sys.argv = ["components.render", *sys.argv[3:]]
WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
EVENTS = {"os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.chmod", "os.symlink",
          "os.link", "os.truncate", "shutil.rmtree", "shutil.copyfile", "shutil.move"}

DIR_FD = {"os.remove": (1,), "os.rmdir": (1,), "os.mkdir": (2,), "os.chmod": (2,),
          "os.rename": (2, 3), "os.symlink": (2,)}  # where each event passes its dir_fd

def inside(path, dir_fd=None):
    if isinstance(path, int) or path is None:
        return True  # a file descriptor: its opening was checked
    path = os.fsdecode(path)
    if dir_fd is not None and not os.path.isabs(path):  # e.g. rmtree's relative removals
        path = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
    real = os.path.realpath(path)
    return real == "/dev/null" or any(real == a or real.startswith(a + os.sep) for a in allowed)

def hook(event, args):
    paths = ()
    if event == "open":
        path, mode, flags = args
        writing = any(c in (mode or "") for c in "wax+") or bool((flags or 0) & WRITE)
        paths = ((path, None),) if writing else ()
    elif event in EVENTS:
        fds = [args[i] if i < len(args) else None for i in DIR_FD.get(event, ())]
        paths = tuple((a, fds[j] if j < len(fds) else None) for j, a in enumerate(args[:2])
                      if isinstance(a, (str, bytes, os.PathLike)))
    for path, dir_fd in paths:
        if not inside(path, dir_fd):
            print(f"WRITE OUTSIDE: {event} {path!r}", file=sys.stderr, flush=True)
            raise PermissionError(f"render wrote outside OUT_DIR: {event} {path!r}")

sys.addaudithook(hook)
runpy.run_module("components.render", run_name="__main__", alter_sys=True)
'''


def test_render_writes_only_into_its_output_directory(tmp_path: Path) -> None:
    stack = stack_file("prod", tmp_path)  # a remote box: the program writes key files
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-c", HOOK, str(out), str(tmp), str(stack), str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert "WRITE OUTSIDE" not in done.stderr, done.stderr[-3000:]
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "etc/apache2/sites-available/wpfleet-blog.conf").is_file()
    assert list(tmp.iterdir()) == []  # the sandbox is gone
