"""WordPress itself, per site: unattended install, then core + database upgrades on a new image.

One command per site (`wordpress-<site>`), run once the site's replicas are healthy:

1. Core files. The official image copies WordPress into the docroot volume only when it is
   empty, so a new `wordpressImage` tag alone leaves the old core in place. The script compares
   the image's `/usr/src/wordpress` with the volume and copies the image's core over it
   (`wp-content`, `wp-config.php` and `.htaccess` untouched). No internet needed: the files come
   from the image already pulled. An older image than the volume is refused (no downgrades).
2. Install. When `wp core is-installed` says no, `wp core install` runs with the title, admin
   user and e-mail from the config; the admin password is read from this script's stdin and
   handed to wp-cli on *its* stdin (`--prompt=admin_password`), never on any argv.
3. Database. On an installed site, `wp core update-db` (a no-op when already current).

The image reference is part of the script, so a changed `wordpressImage` changes the script and
Pulumi re-runs it (as an update) after the replicas were replaced.
"""

from __future__ import annotations

import shlex
from textwrap import dedent

from components.config import ADMIN_PASSWORDS_KEY, SiteConfig, StackConfig
from components.render.command import BoxCommand, script
from components.render.wordpress.cli import wp_function

COMMAND_PREFIX = "wordpress-"
IMAGE_CORE = "/usr/src/wordpress"  # where the official image keeps its copy of WordPress
DOCROOT = "/var/www/html"
WWW_DATA = "33:33"  # www-data in the Debian-based image: the docroot's owner

# Prints "IMAGE_VERSION VOLUME_VERSION CMP" ("-" when absent; CMP = version_compare, 1 when
# the volume has no core yet). version.php only assigns variables: include it in a function.
VERSION_PHP = (
    'function v($f) { if (!is_file($f)) { return ""; } include $f; return $wp_version; }'
    ' $i = v($argv[1]); $d = v($argv[2]);'
    ' echo ($i === "" ? "-" : $i), " ", ($d === "" ? "-" : $d), " ",'
    ' ($i === "" ? 0 : ($d === "" ? 1 : version_compare($i, $d))), "\\n";'
)


def site_url(stack: StackConfig, site: SiteConfig) -> str:
    scheme, port, default = (("https", stack.apache.https_port, 443) if site.tls
                             else ("http", stack.apache.http_port, 80))
    return f"{scheme}://{site.domain}" + ("" if port == default else f":{port}")


def admin_email(stack: StackConfig, site: SiteConfig) -> str:
    email = site.admin_email or stack.acme.email
    if email is None:  # the config parser refuses this; a guard for direct callers
        raise ValueError(f"site {site.name!r}: adminEmail is required when acme.email is unset")
    return email


def command_name(site: SiteConfig) -> str:
    return f"{COMMAND_PREFIX}{site.name}"


def install_command(stack: StackConfig, site: SiteConfig) -> BoxCommand:
    """Install (once) and upgrade (on a new image) WordPress for one site; password on stdin."""
    q = shlex.quote
    install_args = " ".join(q(a) for a in (
        f"--url={site_url(stack, site)}", f"--title={site.title or site.domain}",
        f"--admin_user={site.admin_user}", f"--admin_email={admin_email(stack, site)}",
        "--skip-email", "--prompt=admin_password"))
    body = dedent("""\
        # wordpressImage: %(image)s
        site=%(site)s
        # replica 0: the one Pulumi has just waited healthy on the new image; the core copy
        # below runs in it, and wp-cli goes through it too (pinned: no other replica instead)
        replica=%(replica)s
        wpfleet_wp_pin=$replica
        # the admin password is this script's stdin (one line): read it before any
        # `docker run -i` could consume it; it only ever leaves through a pipe, never argv
        IFS= read -r admin_password || true
        if [ -z "$admin_password" ]; then
          echo "wpfleet: no admin password on stdin for $site" >&2; exit 1
        fi
        """) % {"image": site.wordpress_image, "site": q(site.name),
                "replica": q(f"wpfleet-{site.name}-wp-0")}
    body += wp_function()
    body += dedent("""\
        # 1. core files: the image copies WordPress only into an empty volume
        versions=$(docker exec "$replica" php -r %(php)s %(core)s/wp-includes/version.php \\
          %(docroot)s/wp-includes/version.php)
        read -r image_version volume_version cmp <<<"$versions"
        if [ "$image_version" = - ]; then
          echo "wpfleet: $site: the image has no %(core)s; core files left as they are"
        elif [ "$cmp" = 0 ]; then
          echo "wpfleet: $site: WordPress core $volume_version matches the image"
        elif [ "$cmp" = -1 ]; then
          echo "wpfleet: $site: the image has WordPress $image_version but the site runs" \\
            "$volume_version; downgrades are not supported: pin wordpressImage to" \\
            "$volume_version or newer" >&2
          exit 1
        else
          docker exec -u %(owner)s "$replica" sh -c %(copy)s
          echo "wpfleet: $site: WordPress core $volume_version -> $image_version (from the image)"
        fi
        # 2. install once; 3. afterwards, upgrade the database to the core's version
        if wpfleet_wp "$site" core is-installed </dev/null; then
          wpfleet_wp "$site" core update-db </dev/null
        else
          # wp-cli's own output is dropped: its prompt handling must never echo the password
          printf '%%s\\n' "$admin_password" | wpfleet_wp "$site" core install %(args)s >/dev/null
          echo "wpfleet: $site: WordPress installed, admin user %(user)s"
        fi
        """) % {
        "php": q(VERSION_PHP), "core": IMAGE_CORE, "docroot": DOCROOT, "owner": WWW_DATA,
        "copy": q(f"tar -C {IMAGE_CORE} --exclude=./wp-content --exclude=./wp-config.php "
                  f"--exclude=./.htaccess -cf - . | tar -C {DOCROOT} -xf -"),
        "args": install_args, "user": q(site.admin_user)}
    return BoxCommand(name=command_name(site), create=script(body),
                      stdin_secret=ADMIN_PASSWORDS_KEY)


def files(stack: StackConfig) -> dict[str, str]:
    return {}


def commands(stack: StackConfig) -> list[BoxCommand]:
    return [install_command(stack, s) for s in stack.sites]


__all__ = ["VERSION_PHP", "command_name", "commands", "files",
           "install_command", "site_url"]
