"""`db-user-<site>`: the database user's password inside MariaDB follows the generated secret.

MariaDB's image applies `MARIADB_PASSWORD` only when it initialises an empty data volume, so a
new password (`pulumi up --replace` of the site's `<site>-db-password`, docs/operations.md)
would reach WordPress's secret file (`site-secrets-<site>`, secrets.py) but not the database it
connects to. This command sets the user's password with `ALTER USER` through the root account
(its password read inside the container from the mounted file: secrets.as_db_root), after the
database container is up and the secret files are written, and before the WordPress replicas
start. The password arrives on the script's stdin and reaches MariaDB on *its* stdin: never on
an argv, never printed. On the first `up` it is a no-op (the image created the user with the
same password).
"""

from __future__ import annotations

import shlex
from textwrap import dedent

from components.config import SiteConfig, StackConfig
from components.render.command import BoxCommand, script
from components.render.wordpress.secrets import as_db_root

DB_NAME = "wordpress"
DB_USER = "wordpress"  # the official image creates it as 'wordpress'@'%'


def db_container(site: SiteConfig) -> str:
    return f"wpfleet-{site.name}-db"


def db_user_command(site: SiteConfig) -> BoxCommand:
    body = dedent("""\
        CONTAINER=%(container)s
        DB_USER=%(user)s
        DOCKER=${DOCKER:-docker}
        IFS= read -r password || true
        [ -n "$password" ] || { echo "db-user: no password on stdin" >&2; exit 1; }
        case "$password" in *[!A-Za-z0-9]*)  # generated without specials: never SQL-special
          echo "db-user: the password has characters other than letters and digits" >&2; exit 1 ;;
        esac
        printf "ALTER USER '%%s'@'%%%%' IDENTIFIED BY '%%s';\\nFLUSH PRIVILEGES;\\n" \\
            "$DB_USER" "$password" \\
          | "$DOCKER" exec -i "$CONTAINER" sh -c %(root_client)s
        echo "db-user-%(site)s: the database user's password matches the stack's secret"
        """) % {"container": shlex.quote(db_container(site)), "user": shlex.quote(DB_USER),
                "site": site.name, "root_client": shlex.quote(as_db_root("mariadb -uroot"))}
    return BoxCommand(name=f"db-user-{site.name}", create=script(body), update=script(body))


def files(stack: StackConfig) -> dict[str, str]:
    return {}


def commands(stack: StackConfig) -> list[BoxCommand]:
    return [db_user_command(site) for site in stack.sites]
