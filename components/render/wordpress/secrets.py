"""`site-secrets-<site>`: a site's secrets as files on the box, never in a container's environment.

Why: Docker keeps a container's environment in its config. `docker inspect` shows it, and the
Docker provider logs that inspect output at debug level, which Pulumi writes into its automatic
log of every operation (~/.pulumi/logs/): seen through the real engine with the database
passwords, the salts and the SMTP password in plaintext. The official images read each secret
from a file named by `<NAME>_FILE` instead (mariadb: `MARIADB_PASSWORD_FILE`,
`MARIADB_ROOT_PASSWORD_FILE`; wordpress's wp-config-docker.php: `WORDPRESS_DB_PASSWORD_FILE` and
every key/salt), so the containers get only paths, and wpfleet's mail plugin reads
`WPFLEET_SMTP_PASSWORD_FILE` the same way (php.py).

On the box (`DIR` = /etc/wpfleet/secrets/<site>):

    /etc/wpfleet/secrets, DIR      0700 root         nobody else on the box gets past these
    DIR/db/                        0700 root         -> the DB container's /run/secrets/wpfleet
      MARIADB_PASSWORD, MARIADB_ROOT_PASSWORD   0400 root      (the entrypoint reads them as root)
    DIR/wordpress/                 0750 root:33      -> every replica's /run/secrets/wpfleet
      WORDPRESS_DB_PASSWORD, WORDPRESS_AUTH_KEY ... WORDPRESS_NONCE_SALT, [WPFLEET_SMTP_PASSWORD]
                                   0440 root:33      (wp-config.php reads them at every request
                                                      as www-data, uid/gid 33)

A bind mount's directory is reached in the container without walking its parents on the box, so
the 0700 parents hide the files from the box's users (its Apache runs as www-data, 33, too)
while the containers read them. Directories are mounted, not files: a secret is replaced by a
rename inside its directory, which a running container sees at once (a bind-mounted file keeps
its old inode), so a rotated DB password reaches WordPress without re-creating the replicas.
The WordPress replicas get no root password. wp-cli (cli.py) runs `--volumes-from` a replica:
it gets the same mount, and the `_FILE` variables from the replica's environment.

The values arrive on the command's stdin, one `DIR/NAME=value` line each (`stdin_text`): never
on an argv, never printed. The script checks it got exactly the expected names before writing
anything, writes a file only when its content changed (atomically, by rename), removes files no
longer expected (smtp user removed), prints the names it wrote, and its delete removes DIR.
"""

from __future__ import annotations

import shlex
from textwrap import dedent

from components.config import SiteConfig, StackConfig
from components.render.command import BoxCommand, script
from components.render.secret_files import delete_body, writer_body

SECRETS_DIR = "/etc/wpfleet/secrets"  # noqa: S105 - a path, not a secret
IN_CONTAINER = "/run/secrets/wpfleet"  # where both kinds of container mount their directory
WWW_DATA_GID = 33  # www-data in the Debian-based wordpress image; wp-cli runs as 33:33
SALT_NAMES = ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY",
              "AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT")
SMTP_PASSWORD = "WPFLEET_SMTP_PASSWORD"  # noqa: S105 - a name; read by php.py's mail plugin
DB_FILES = ("MARIADB_PASSWORD", "MARIADB_ROOT_PASSWORD")
ROOT_PASSWORD_FILE = f"{IN_CONTAINER}/MARIADB_ROOT_PASSWORD"  # noqa: S105 - a path


def command_name(site: SiteConfig) -> str:
    return f"site-secrets-{site.name}"


def site_dir(site: SiteConfig) -> str:
    return f"{SECRETS_DIR}/{site.name}"


def wordpress_files(site: SiteConfig) -> tuple[str, ...]:
    """The secret files of the replicas' directory (each named like the variable it feeds)."""
    smtp = (SMTP_PASSWORD,) if site.smtp is not None and site.smtp.user is not None else ()
    return ("WORDPRESS_DB_PASSWORD", *(f"WORDPRESS_{k}" for k in SALT_NAMES), *smtp)


def mounts(site: SiteConfig) -> dict[str, tuple[str, str]]:
    """Role ("db", "wordpress") -> (box directory, container path), mounted read-only."""
    return {role: (f"{site_dir(site)}/{role}", IN_CONTAINER) for role in ("db", "wordpress")}


def db_env() -> list[str]:
    """The DB container's secret variables: paths only."""
    return [f"{name}_FILE={IN_CONTAINER}/{name}" for name in DB_FILES]


def wordpress_env(site: SiteConfig) -> list[str]:
    """The replicas' secret variables: paths only."""
    return [f"{name}_FILE={IN_CONTAINER}/{name}" for name in wordpress_files(site)]


def stdin_text(site: SiteConfig, *, db_password: str, root_password: str,
               salts: dict[str, str], smtp_password: str | None = None) -> str:
    """What `site-secrets-<site>` reads: one `DIR/NAME=value` line per file. Errors name the
    secret, never its value."""
    values = {"db/MARIADB_PASSWORD": db_password, "db/MARIADB_ROOT_PASSWORD": root_password,
              "wordpress/WORDPRESS_DB_PASSWORD": db_password}
    values.update({f"wordpress/WORDPRESS_{k}": salts[k] for k in SALT_NAMES})
    if SMTP_PASSWORD in wordpress_files(site):
        if smtp_password is None:
            raise ValueError(f"site {site.name}: smtp.user is set but no SMTP password was given")
        values[f"wordpress/{SMTP_PASSWORD}"] = smtp_password
    for key, value in values.items():
        if not value or "\n" in value or "\r" in value:
            raise ValueError(f"site {site.name}: secret {key} is empty or not one line")
    return "".join(f"{key}={value}\n" for key, value in values.items())


def as_db_root(command: str) -> str:
    """`sh -c` text run INSIDE the DB container: COMMAND as MariaDB's root, the password read
    there from the mounted file into MYSQL_PWD (never an argv, never on the box). A container
    created before the secrets were files has no such file but MARIADB_ROOT_PASSWORD in its
    environment (an `up` replaces it; a backup may run in between): that is used then."""
    return (f'MYSQL_PWD=$(cat {ROOT_PASSWORD_FILE} 2>/dev/null '
            f'|| printf %s "${{MARIADB_ROOT_PASSWORD:-}}") exec {command}')


_SETUP = dedent("""\
    # directories: root-only above the mounted ones; the replicas' readable by gid %(gid)s
    mkdir -p "$TOP" "$DIR/db" "$DIR/wordpress"
    chmod 0700 "$TOP" "$DIR" "$DIR/db"
    chown 0:0 "$TOP" "$DIR" "$DIR/db"
    chown 0:%(gid)s "$DIR/wordpress"; chmod 0750 "$DIR/wordpress"
    """).rstrip("\n") % {"gid": WWW_DATA_GID}


def secrets_command(site: SiteConfig) -> BoxCommand:
    """Writes the site's secret files; its containers and `db-user-<site>` depend on it."""
    tag = command_name(site)
    keys = [*(f"db/{n}" for n in DB_FILES), *(f"wordpress/{n}" for n in wordpress_files(site))]
    body = writer_body(
        tag=shlex.quote(tag), top=shlex.quote(SECRETS_DIR), dir=shlex.quote(site_dir(site)),
        keys=keys, key_re="^(db|wordpress)/[A-Z_]+$", whose="this site's secrets", setup=_SETUP,
        tmp_globs='"$DIR"/db/.tmp.* "$DIR"/wordpress/.tmp.*',
        mode=f'case "$key" in db/*) mode=0400 group=0 ;; *) mode=0440 group={WWW_DATA_GID} ;; esac',
        file_globs='"$DIR"/db/* "$DIR"/wordpress/*', why_removed="no longer used",
        whose_files="the site's secret files")
    delete = delete_body(tag=shlex.quote(tag), dir=shlex.quote(site_dir(site)), shown=site_dir(site))
    return BoxCommand(name=tag, create=script(body), update=script(body), delete=script(delete))


def files(stack: StackConfig) -> dict[str, str]:
    return {}  # the values are secrets: never rendered


def commands(stack: StackConfig) -> list[BoxCommand]:
    return [secrets_command(site) for site in stack.sites]


__all__ = ["IN_CONTAINER", "SALT_NAMES", "SECRETS_DIR", "as_db_root", "command_name", "commands",
           "db_env", "files", "mounts", "secrets_command", "stdin_text", "wordpress_env",
           "wordpress_files"]
