"""The box's own basics as one component: preflight, firewall, SSH hardening, DuckDNS, boot.

One component rather than five: they are box-wide singletons that only make sense in one
order (preflight first; the firewall allows SSH before sshd is touched), share the same
inputs, and the rest of the stack needs just two handles from them: `preflight` (everything on
Docker waits for it) and `ready` (Apache's sites wait for the firewall to open their ports and
for DuckDNS to point the name at the box before certbot asks for a certificate).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.box import Box
from components.config import DUCKDNS_TOKEN_KEY, StackConfig
from components.render import BoxCommand
from components.render.box import basics as render_box


@dataclass(frozen=True, kw_only=True)
class BoxSetupArgs:
    stack: StackConfig  # validated stack config
    box: Box  # runs the commands on the box
    duckdns_token: pulumi.Output[str] | None = None  # secret; required when duckdns is set

    def __post_init__(self) -> None:
        if self.stack.duckdns is not None and self.duckdns_token is None:
            raise ValueError("BoxSetupArgs.duckdns_token is required because the stack sets "
                             "wpfleet:duckdns; set wpfleet:duckdnsToken as a secret")


class BoxSetup(pulumi.ComponentResource):
    preflight: pulumi.Resource  # the check every Docker resource depends on
    ready: list[pulumi.Resource]  # all box basics; Apache confs depend on these
    commands: dict[str, pulumi.Resource]  # by BoxCommand name, e.g. "box-firewall"

    def __init__(self, name: str, args: BoxSetupArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("wpfleet:index:BoxSetup", name, None, opts)
        specs = render_box.commands(args.stack)
        secrets = {DUCKDNS_TOKEN_KEY: args.duckdns_token}
        self.commands = {}
        previous: list[pulumi.Resource] = []
        for spec in specs:
            # a chain in render order: docker-access -> preflight -> firewall -> ssh -> duckdns
            # -> boot
            self.commands[spec.name] = self._run(args.box, spec, previous, secrets)
            previous = [self.commands[spec.name]]
        self.preflight = self.commands["box-preflight"]
        # the Docker provider (and so every network, volume, image, container) waits for the
        # preflight; its settings come from box-docker-access alone (connection config only)
        args.box.open_docker(self.commands["box-docker-access"], self.preflight)
        self.ready = list(self.commands.values())
        self.register_outputs({"commands": list(self.commands)})

    def _run(self, box: Box, spec: BoxCommand, after: list[pulumi.Resource],
             secrets: dict[str, pulumi.Output[str] | None]) -> pulumi.Resource:
        stdin: pulumi.Output[str] | None = None
        if spec.stdin_secret is not None:
            value = secrets.get(spec.stdin_secret)
            if value is None:  # a programming error: the render layer asked for an unknown one
                raise AssertionError(f"{spec.name} needs secret {spec.stdin_secret!r}")
            # a trailing newline: the script's `read` sees one complete line
            line: pulumi.Output[str] = value.apply(lambda v: v.strip() + "\n")
            stdin = pulumi.Output.secret(line)
        return box.run(spec, parent=self, depends_on=after, stdin=stdin)
