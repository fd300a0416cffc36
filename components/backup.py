"""Backups of every site with restic: one install command for the box, one entry per site.

The restic password (wpfleet:resticPassword, or the box's wpfleet:resticPasswords.<box>) and
the optional extra restic environment (wpfleet:backupEnv, e.g. S3 keys) reach the box only on
the install command's stdin, as one secret Output; the scripts store them in 0600 files. Each
site's entry is its own command (`backup-site-<name>`) so adding or removing a site changes
nothing else (docs/backups.md). With `backup.sftpHostKey`, the install generates the box's own
SSH key for the SFTP target and prints its public key: `public_key` (the stack output
backupSshKeys).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pulumi

from components.box import Box
from components.config import BACKUP_ENV_KEY, RESTIC_PASSWORD_KEY, StackConfig, set_path_hint
from components.config.checks import ENV_NAME_RE
from components.render.backup import restic as render_backup
from components.render.backup.sftp import PUBLIC_KEY_LINE

PUBLIC_KEY_RE = re.compile(re.escape(PUBLIC_KEY_LINE)
                           + r"((?:ssh-ed25519|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/]+=*(?: [^\s]+)?)$",
                           re.MULTILINE)


def public_key(install_stdout: str | None) -> str | None:
    """The box's public key for the SFTP target, from backup-install's last line."""
    found = PUBLIC_KEY_RE.findall(install_stdout or "")
    return found[-1] if found else None


def stdin_text(password: str, env: Any, password_key: str = RESTIC_PASSWORD_KEY) -> str:
    """Line 1: the password; then NAME=value per backupEnv entry. Errors never show values."""
    if not isinstance(password, str) or not password.strip() or "\n" in password.strip():
        hint = (f"pulumi config set --secret wpfleet:{RESTIC_PASSWORD_KEY}"
                if password_key == RESTIC_PASSWORD_KEY else set_path_hint(f"wpfleet:{password_key}"))
        raise pulumi.RunError(f"wpfleet:{password_key}: must be one non-empty line; set it "
                              f"with `{hint}`")
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
    restic_password: pulumi.Output[str]  # secret: resticPasswords.<box> or resticPassword
    backup_env: pulumi.Output[Any] | None = None  # secret {NAME: value}, optional
    after: list[pulumi.Resource] | None = None  # e.g. the box preflight

    def __post_init__(self) -> None:
        if self.stack.backup is None:
            raise ValueError("BackupArgs.stack: wpfleet:backup is not set; create Backup only "
                             "when the stack configures backups")


class Backup(pulumi.ComponentResource):
    install: pulumi.Resource  # programs, units, secrets, repository
    sites: dict[str, pulumi.Resource]  # site name -> its backup-site-<name> command
    # with backup.sftpHostKey: the public key the box generated for its SFTP target
    public_key: pulumi.Output[str | None] | None

    def __init__(self, name: str, args: BackupArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("wpfleet:index:Backup", name, None, opts)
        backup = args.stack.backup
        if backup is None:  # BackupArgs refuses it; for the type checker
            raise ValueError("BackupArgs.stack: wpfleet:backup is not set")
        specs = render_backup.commands(args.stack)
        install_spec, site_specs = specs[0], specs[1:]
        env = args.backup_env if args.backup_env is not None else pulumi.Output.from_input(None)
        stdin: pulumi.Output[str] = pulumi.Output.secret(  # type: ignore[arg-type]
            pulumi.Output.all(args.restic_password, env).apply(
                lambda v: stdin_text(v[0], v[1], backup.password_key)))
        self.install = args.box.run(install_spec, parent=self, depends_on=list(args.after or []),
                                    stdin=stdin)
        self.sites = {spec.name.removeprefix("backup-site-"): args.box.run(
            spec, parent=self, depends_on=[self.install]) for spec in site_specs}
        outputs: dict[str, Any] = {"sites": sorted(self.sites)}
        self.public_key = None
        if backup.sftp is not None:
            stdout: pulumi.Output[str] = getattr(self.install, "stdout")  # noqa: B009
            self.public_key = outputs["publicKey"] = stdout.apply(public_key)
        self.register_outputs(outputs)
