"""Whether this pulumi process may use the local Docker daemon (a `box: {host: local}` stack).

Standard library only, apart from components/box.py (its only user), so the very check the
pulumi process makes can also run as another user under the system python3 (an integration
test does, after box-preflight added that user to the docker group).
"""

from __future__ import annotations

import os


def local_docker_problem(user: str, socket_path: str = "/var/run/docker.sock") -> str | None:
    """Why this process (and so the Docker provider it starts) cannot use the local daemon."""
    if os.geteuid() == 0 or os.access(socket_path, os.R_OK | os.W_OK):
        return None
    return (f"box-preflight added {user} to the docker group, but this pulumi session started "
            f"before that and cannot open {socket_path}: log in again (or run `newgrp docker`) "
            "and run `pulumi up` again")


__all__ = ["local_docker_problem"]
