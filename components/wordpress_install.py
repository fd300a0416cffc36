"""WordPressInstall: one site's unattended WordPress install, and its upgrades on a new image.

Runs the site's `wordpress-<site>` box command (rendered by `components.render.wordpress.install`) once
its replicas are healthy, with the admin password on stdin: a configured secret
(`wpfleet:adminPasswords.<site>`) or a generated one. Either way it is a secret Output end to
end, exported as the stack's secret output `adminPasswords`. The site's Apache conf waits for
this command, so the installer is never reachable from outside.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_random as random

from components.box import Box
from components.config import SiteConfig, StackConfig
from components.render.wordpress import install as wordpress


@dataclass(frozen=True, kw_only=True)
class WordPressInstallArgs:
    stack: StackConfig  # validated stack (acme.email, Apache ports for the site URL)
    site: SiteConfig  # the site to install
    box: Box  # runs the command on the box
    after: Sequence[pulumi.Resource]  # the site's replicas (healthy) and the wp-cli image
    admin_password: pulumi.Output[str] | None = None  # configured secret; None: generate one

    def __post_init__(self) -> None:
        if self.site not in self.stack.sites:
            raise ValueError(f"WordPressInstallArgs.site: {self.site.name!r} is not in this stack")


class WordPressInstall(pulumi.ComponentResource):
    admin_password: pulumi.Output[str]  # secret
    admin_user: str
    command: pulumi.CustomResource

    def __init__(self, name: str, args: WordPressInstallArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wpfleet:index:WordPressInstall", name, None, opts)
        password = args.admin_password
        if password is None:
            # a renamed site keeps its generated password: the component is named after the
            # site ("blog-install"), so is the password's old name ("old-install-admin-password")
            was, site_name = args.site.renamed_from, args.site.name
            aliases = None if was is None or not name.startswith(site_name) else [
                pulumi.Alias(name=f"{was}{name[len(site_name):]}-admin-password")]
            password = random.RandomPassword(
                f"{name}-admin-password", length=24, special=False,
                opts=pulumi.ResourceOptions(parent=self, aliases=aliases)).result
        self.admin_password = pulumi.Output.secret(password)
        self.admin_user = args.site.admin_user
        # one line on stdin: the script's `read` takes it, then pipes it to wp-cli
        stdin: pulumi.Output[str] = pulumi.Output.secret(
            self.admin_password.apply(lambda v: v + "\n"))
        spec = wordpress.install_command(args.stack, args.site)
        self.command = args.box.run(spec, parent=self, depends_on=list(args.after), stdin=stdin)
        self.register_outputs({"adminUser": self.admin_user})
