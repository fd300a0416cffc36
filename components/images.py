"""One `RemoteImage` per distinct image reference on the box, shared by every site."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.box import Box


def image_resource_name(ref: str) -> str:
    """Stable, readable resource name: wordpress:6.8.3-php8.3-apache -> image-wordpress-6-8-3-..."""
    return "image-" + re.sub(r"[^a-z0-9]+", "-", ref.lower()).strip("-")


@dataclass(frozen=True, kw_only=True)
class ImagesArgs:
    refs: tuple[str, ...]  # pinned image references (validated); duplicates are pulled once
    box: Box
    after: tuple[pulumi.Resource, ...] = ()  # e.g. the box preflight (Docker must be running)


class Images(pulumi.ComponentResource):
    def __init__(self, name: str, args: ImagesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("wpfleet:index:Images", name, None, opts)
        self.images: dict[str, docker.RemoteImage] = {}
        for ref in sorted(set(args.refs)):
            # keep_locally: another site may still run it; the engine pulls only when missing
            self.images[ref] = docker.RemoteImage(
                args.box.name_prefix + image_resource_name(ref), name=ref, keep_locally=True,
                opts=pulumi.ResourceOptions(parent=self, provider=args.box.provider,
                                            depends_on=list(args.after)))
        self.register_outputs({"images": sorted(self.images)})

    def id_of(self, ref: str) -> pulumi.Output[str]:
        """The local image ID: containers reference it so a tag/digest diff never replaces them."""
        return self.images[ref].image_id
