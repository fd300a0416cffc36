"""Per-site Docker networks: one internal (DB traffic, no egress), one for WordPress egress."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.box import Box


def site_labels(site: str, role: str) -> list[docker.NetworkLabelArgs]:
    return [docker.NetworkLabelArgs(label="org.wpfleet.site", value=site),
            docker.NetworkLabelArgs(label="org.wpfleet.role", value=role)]


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    site: str  # validated site name; network names derive from it
    box: Box  # its Docker provider creates the networks


class Network(pulumi.ComponentResource):
    """No network is shared between sites: each site gets its own pair."""

    db_network: docker.Network
    web_network: docker.Network
    db_network_name: pulumi.Output[str]
    web_network_name: pulumi.Output[str]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("wpfleet:index:Network", name, None, opts)
        # fixed names: Docker refuses a second network of the same name, so a replaced
        # network must go first (the engine then replaces its containers too)
        child = pulumi.ResourceOptions(parent=self, provider=args.box.provider,
                                       delete_before_replace=True)
        # internal=True: no route out and nothing published; only this site's DB and WordPress
        self.db_network = docker.Network(
            f"{name}-db", name=f"wpfleet-{args.site}-db", driver="bridge", internal=True,
            labels=site_labels(args.site, "db"), opts=child)
        # WordPress needs egress (updates, plugins, outgoing mail APIs)
        self.web_network = docker.Network(
            f"{name}-web", name=f"wpfleet-{args.site}-web", driver="bridge", internal=False,
            labels=site_labels(args.site, "web"), opts=child)
        self.db_network_name = self.db_network.name
        self.web_network_name = self.web_network.name
        self.register_outputs({"dbNetwork": self.db_network_name,
                               "webNetwork": self.web_network_name})
