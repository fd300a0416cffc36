"""Backups of every site with restic: one install command for the box, one entry per site.

The restic password (wpfleet:resticPassword) and the optional extra restic environment
(wpfleet:backupEnv, e.g. S3 keys) reach the box only on the install command's stdin, as one
secret Output; the scripts store them in 0600 files. Each site's entry is its own command
(`backup-site-<name>`) so adding or removing a site changes nothing else (docs/backups.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components.box import Box
from components.config import BACKUP_ENV_KEY, RESTIC_PASSWORD_KEY, StackConfig, set_path_hint
from components.config.checks import ENV_NAME_RE
from components.render.backup import restic as render_backup


def stdin_text(password: str, env: Any) -> str:
    """Line 1: the password; then NAME=value per backupEnv entry. Errors never show values."""
    if not isinstance(password, str) or not password.strip() or "\n" in password.strip():
        raise pulumi.RunError(f"wpfleet:{RESTIC_PASSWORD_KEY}: must be one non-empty line; set "
                              f"it with `pulumi config set --secret wpfleet:{RESTIC_PASSWORD_KEY}`")
    lines = [password.strip()]
    if env is not None:
        if not isinstance(env, dict):
            raise pulumi.RunError(f"wpfleet:{BACKUP_ENV_KEY}: must be a mapping of NAME: value; "
                                  "set entries with "
                                  f"`{set_path_hint(f'wpfleet:{BACKUP_ENV_KEY}.AWS_ACCESS_KEY_ID')}`")
        for name, value in env.items():
            if not ENV_NAME_RE.match(str(name)):
                raise pulumi.RunError(f"wpfleet:{BACKUP_ENV_KEY}.{name}: is not an environment "
                                      "variable name (letters, digits, _; not starting with a digit)")
            if not isinstance(value, (str, int, float)) or "\n" in str(value):
                raise pulumi.RunError(f"wpfleet:{BACKUP_ENV_KEY}.{name}: must be a single-line "
                                      "string (its value is not shown)")
            lines.append(f"{name}={value}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, kw_only=True)
class BackupArgs:
    stack: StackConfig  # validated stack config with `backup` set
    box: Box  # runs the commands on the box
    restic_password: pulumi.Output[str]  # secret
    backup_env: pulumi.Output[Any] | None = None  # secret {NAME: value}, optional
    after: list[pulumi.Resource] | None = None  # e.g. the box preflight

    def __post_init__(self) -> None:
        if self.stack.backup is None:
            raise ValueError("BackupArgs.stack: wpfleet:backup is not set; create Backup only "
                             "when the stack configures backups")


class Backup(pulumi.ComponentResource):
    install: pulumi.Resource  # programs, units, secrets, repository
    sites: dict[str, pulumi.Resource]  # site name -> its backup-site-<name> command

    def __init__(self, name: str, args: BackupArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("wpfleet:index:Backup", name, None, opts)
        specs = render_backup.commands(args.stack)
        install_spec, site_specs = specs[0], specs[1:]
        env = args.backup_env if args.backup_env is not None else pulumi.Output.from_input(None)
        stdin: pulumi.Output[str] = pulumi.Output.secret(  # type: ignore[arg-type]
            pulumi.Output.all(args.restic_password, env).apply(lambda v: stdin_text(v[0], v[1])))
        self.install = args.box.run(install_spec, parent=self, depends_on=list(args.after or []),
                                    stdin=stdin)
        self.sites = {spec.name.removeprefix("backup-site-"): args.box.run(
            spec, parent=self, depends_on=[self.install]) for spec in site_specs}
        self.register_outputs({"sites": sorted(self.sites)})
