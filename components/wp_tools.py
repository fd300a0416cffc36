"""WpTools: the day-to-day WordPress tooling on the box (render/wordpress/tools.py, render/wordpress/php.py).

One `wp-tools` command installs `wpfleet-wp`, `wpfleet-logs`, the WP-Cron runner and the
logrotate conf; per site, `wp-site-<site>` writes the PHP ini and mail plugin the replicas
mount (so the replicas depend on it), and `cron(site, replicas)` adds the site's WP-Cron timer
once its replicas exist.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.box import Box
from components.config import SMTP_PASSWORD_KEY, SiteConfig, StackConfig, set_path_hint
from components.render.wordpress import tools as wp_tools


def smtp_password_for(site: SiteConfig, secret: pulumi.Output[Any] | None
                      ) -> pulumi.Output[str] | None:
    """The site's SMTP password (still secret), or None when its smtp has no user."""
    if secret is None or site.smtp is None or site.smtp.user is None:
        return None
    picked: pulumi.Output[str] = secret.apply(lambda raw: pick_smtp_password(site, raw))
    return pulumi.Output.secret(picked)  # type: ignore[arg-type]  # SDK stub types it as Never


def pick_smtp_password(site: SiteConfig, raw: Any) -> str:
    """This site's password from `wpfleet:smtpPassword`: a {site: password} map or one string.

    Errors name the key, never the value.
    """
    if isinstance(raw, str) and raw.lstrip().startswith("{"):
        with contextlib.suppress(json.JSONDecodeError):  # not JSON: one password
            raw = json.loads(raw)
    value = raw.get(site.name) if isinstance(raw, dict) else raw
    if not isinstance(value, str) or not value or "\n" in value:
        raise pulumi.RunError(
            f"wpfleet:{SMTP_PASSWORD_KEY}.{site.name}: missing or not one line of text, and "
            f"site {site.name} has smtp.user; set it with "
            f"`{set_path_hint(f'wpfleet:{SMTP_PASSWORD_KEY}.{site.name}')}`")
    return value


@dataclass(frozen=True, kw_only=True)
class WpToolsArgs:
    stack: StackConfig  # the validated stack (its sites)
    box: Box  # runs the commands on the box
    after: Sequence[pulumi.Resource] = field(default=())  # e.g. the box preflight


class WpTools(pulumi.ComponentResource):
    tools: pulumi.Resource | None  # the `wp-tools` command (None: no site on the box)
    site_files: dict[str, pulumi.Resource]  # site name -> its `wp-site-<site>` command

    def __init__(self, name: str, args: WpToolsArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wpfleet:index:WpTools", name, None, opts)
        self._box = args.box
        after = list(args.after)
        self.tools = args.box.run(wp_tools.tools_command(), parent=self, depends_on=after) \
            if args.stack.sites else None
        self.site_files = {s.name: args.box.run(wp_tools.site_command(s), parent=self,
                                                depends_on=after) for s in args.stack.sites}
        self.register_outputs({"sites": sorted(self.site_files)})

    def cron(self, site: SiteConfig, replicas: Sequence[pulumi.Resource]) -> pulumi.Resource | None:
        """The site's WP-Cron timer, started once its replicas run (None: cronMinutes 0)."""
        if not site.cron_minutes:
            return None
        return self._box.run(wp_tools.cron_command(site), parent=self,
                             depends_on=[*filter(None, [self.tools]), *replicas])
