"""ApacheBalancer: Apache on the box as load balancer and reverse proxy for every site/backend.

One command installs Apache and enables its modules (idempotent); one command writes the ACME
webroot conf; then one command per site and per backend route applies that host's conf with a
configtest gate, rollback and graceful reload (see `components.render.apache.vhost`). Each conf's
command depends only on its own rendered text, so adding a site never re-runs another site's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from components.box import Box
from components.config import StackConfig
from components.render.apache import cache as apache_cache
from components.render.apache import vhost as apache


@dataclass(frozen=True, kw_only=True)
class ApacheBalancerArgs:
    stack: StackConfig  # the validated stack: sites, backends, acme and apache settings
    box: Box  # runs the commands on the box
    # resources that must exist before Apache is installed (preflight, firewall, ...)
    after: Sequence[pulumi.Resource] = field(default=())
    # per site/backend name: what its conf waits for (a site's WordPress install, so the
    # installer is never reachable through Apache)
    host_after: Mapping[str, Sequence[pulumi.Resource]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.stack, StackConfig):
            raise ValueError(f"ApacheBalancerArgs.stack must be a StackConfig, got {self.stack!r}")


class ApacheBalancer(pulumi.ComponentResource):
    """Apache installed once, then one safely applied conf per site and backend route."""

    install: pulumi.CustomResource
    acme: pulumi.CustomResource  # the ACME webroot conf
    confs: dict[str, pulumi.Resource]  # site/backend name -> its conf command

    def __init__(self, name: str, args: ApacheBalancerArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wpfleet:index:ApacheBalancer", name, None, opts)
        stack, box = args.stack, args.box
        self.install = box.run(apache.install_command(stack), parent=self,
                               depends_on=list(args.after))
        self.acme = box.run(apache.acme_command(stack), parent=self, depends_on=[self.install])
        # a cached site's modules and cache root exist before its conf is applied
        caches = {s.name: box.run(apache_cache.command(s), parent=self, depends_on=[self.install])
                  for s in stack.sites if s.cache is not None}
        # confs only need Apache and the webroot conf: they are applied in parallel
        # (the scripts serialize on flock), none waits for another site
        self.confs = {
            host.name: box.run(apache.conf_command(stack, host), parent=self,
                               depends_on=[self.install, self.acme,
                                           *args.host_after.get(host.name, ()),
                                           *([caches[host.name]] if host.name in caches else [])])
            for host in apache.hosts(stack)}
        self.conf_paths = {host.name: apache.conf_path(host)
                           for host in apache.hosts(stack)}
        self.register_outputs({"confPaths": self.conf_paths})
