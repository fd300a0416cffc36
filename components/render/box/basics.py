"""The box's own basics, rendered: preflight, firewall, DuckDNS, SSH hardening, boot services.

`commands(stack)` lists them in apply order; `BoxSetup` chains them the same way:
preflight first (nothing else runs on a box that fails it), then the firewall, then SSH
hardening (the firewall already allows the SSH port), DuckDNS and the boot services.
Commands for disabled features are absent; their delete scripts undo them on the next `up`.
"""

from __future__ import annotations

from components.config import StackConfig
from components.render.box.duckdns import duckdns
from components.render.box.duckdns import files as duckdns_files
from components.render.box.firewall import firewall
from components.render.box.keeper import files as keeper_files
from components.render.box.keeper import keeper
from components.render.box.preflight import boot, docker_access, preflight
from components.render.box.ssh import files as ssh_files
from components.render.box.ssh import ssh
from components.render.command import BoxCommand


def files(stack: StackConfig) -> dict[str, str]:
    """Files the box commands place on the box (the DuckDNS token is not one: it is secret)."""
    return {**duckdns_files(stack), **ssh_files(stack), **keeper_files(stack)}


def commands(stack: StackConfig) -> list[BoxCommand]:
    maybe = [
        docker_access(stack),
        preflight(stack),
        firewall(stack) if stack.firewall.enabled else None,
        ssh(stack),
        duckdns(stack),
        boot(stack),
        keeper(stack),
    ]
    return [c for c in maybe if c is not None]


__all__ = ["commands", "files"]
