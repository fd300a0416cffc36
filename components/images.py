"""One `RemoteImage` per distinct image reference on the box, shared by every site.

Containers name the configured reference (`wordpress:6.8.3-php8.3-apache`), not the pulled
image ID, and wait for the pull. The provider reads a container's image back as the reference
it was created with, so a tag pulled again on the box (a new ID behind the same name) never
replaces a container, even after `pulumi refresh`; an upgrade is a new reference in the config.
`ids()` shows the image ID each reference had when it was pulled (the stack output `images`).
"""

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
            name = args.box.name_prefix + image_resource_name(ref)
            self.images[ref] = docker.RemoteImage(
                name, name=ref, keep_locally=True,
                opts=pulumi.ResourceOptions(parent=self, provider=args.box.provider,
                                            depends_on=list(args.after),
                                            aliases=args.box.aliases(name) or None))
        self.register_outputs({"images": sorted(self.images)})

    def ids(self) -> dict[str, pulumi.Output[str]]:
        """The local image ID of every reference, as pulled (for the `images` output)."""
        return {ref: image.image_id for ref, image in sorted(self.images.items())}
