"""What a site's WordPress replicas read besides the image: PHP ini, wp-config PHP, mail plugin.

- `php_ini(site)`: /etc/wpfleet/php/<site>.ini on the box, bind-mounted read-only where the
  official image's PHP reads extra ini files (conf.d; `zz-` sorts after the image's own).
- `config_php(site)`: appended to WORDPRESS_CONFIG_EXTRA (eval'd by the image's wp-config.php):
  `DISABLE_WP_CRON` when the box timer runs WP-Cron, then the site's `wpConfig` constants, each
  value rendered as a PHP literal (validated scalars only; strings single-quoted and escaped).
- `mail_plugin(site)`: a must-use plugin, bind-mounted read-only into wp-content/mu-plugins,
  that sends through `smtp` (the password read at each send from the file named by the
  container's WPFLEET_SMTP_PASSWORD_FILE: secrets.py mounts it); without `smtp` it only logs
  that mail was not sent.
- `limit_request_body(site)`: Apache's body limit for the site, equal to PHP's post_max_size.
"""

from __future__ import annotations

import hashlib
import re

from components.config import SiteConfig
from components.render.constants import ACME_PATH

PHP_DIR = "/etc/wpfleet/php"
MAIL_DIR = "/etc/wpfleet/mail"
INI_IN_CONTAINER = "/usr/local/etc/php/conf.d/zz-wpfleet.ini"
MAIL_IN_CONTAINER = "/var/www/html/wp-content/mu-plugins/wpfleet-mail.php"
SMTP_PASSWORD_ENV = "WPFLEET_SMTP_PASSWORD"  # noqa: S105 - the secret's name (+ _FILE: its path)
POST_OVERHEAD_MB = 8  # a form around the upload: other fields and multipart framing
HEADER = "managed by wpfleet from the stack config; `pulumi up` overwrites edits"


def ini_path(site: SiteConfig) -> str:
    return f"{PHP_DIR}/{site.name}.ini"


def mail_path(site: SiteConfig) -> str:
    return f"{MAIL_DIR}/{site.name}.php"


def site_mounts(site: SiteConfig) -> list[tuple[str, str]]:
    """(box path, container path) of the read-only files every replica mounts."""
    return [(ini_path(site), INI_IN_CONTAINER), (mail_path(site), MAIL_IN_CONTAINER)]


def files_digest(site: SiteConfig) -> str:
    """Names the content of the mounted files: a replica labelled with it is re-created when
    they change (a running PHP keeps its ini, and a bind-mounted file keeps its old inode)."""
    text = php_ini(site) + mail_plugin(site)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def post_max_mb(site: SiteConfig) -> int:
    return site.php.upload_max_mb + POST_OVERHEAD_MB


def php_ini(site: SiteConfig) -> str:
    php = site.php
    return (f"; wpfleet site {site.name}: PHP settings ({HEADER})\n"
            f"upload_max_filesize = {php.upload_max_mb}M\n"
            f"post_max_size = {post_max_mb(site)}M\n"
            f"memory_limit = {php.memory_limit_mb}M\n"
            f"max_execution_time = {php.max_execution_seconds}\n"
            f"max_input_time = {php.max_execution_seconds}\n")


def limit_request_body(site: SiteConfig) -> str:
    """Vhost lines: Apache answers 413 above PHP's post_max_size instead of proxying the body.

    Not LimitRequestBody: Apache does not apply it to reverse-proxied requests (measured on
    2.4.71: 9 MB + 1 proxied in full, with Content-Length or chunked). Browsers announce an
    upload's Content-Length, so it is checked up front; a chunked body (no length) goes through
    and PHP's post_max_size discards what is above it.
    """
    limit = post_max_mb(site) * 1024 * 1024
    return (f"    # request bodies up to PHP's post_max_size ({post_max_mb(site)} MB: "
            f"php.uploadMaxMb + {POST_OVERHEAD_MB}); above: 413, never proxied\n"
            # like every rewrite of the vhost, it leaves the ACME path alone
            f"    RewriteCond %{{REQUEST_URI}} !^{re.escape(ACME_PATH)}\n"
            f"    RewriteCond expr \"%{{HTTP:Content-Length}} -gt {limit}\"\n"
            "    RewriteRule ^ - [R=413,L]\n")


def php_literal(value: str | int | float | bool) -> str:
    """A PHP literal for a validated scalar: nothing in it can end the expression."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    # single-quoted PHP strings only interpret \\ and \' (no $variables, no escapes)
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def config_php(site: SiteConfig) -> str:
    # `defined() ||`: wp-cli's `wp config ...` evaluates wp-config a second time
    # (docker-library/wordpress#588); a second define() would warn on every such command
    lines = []
    if site.cron_minutes:
        lines.append(f"defined('DISABLE_WP_CRON') || define('DISABLE_WP_CRON', true);  "
                     f"// WP-Cron: wpfleet-cron-{site.name}.timer, every {site.cron_minutes} min\n")
    lines += [f"defined({php_literal(name)}) || define({php_literal(name)}, {php_literal(value)});\n"
              for name, value in site.wp_config]
    return "".join(lines)


def mail_plugin(site: SiteConfig) -> str:
    head = ("<?php\n/*\n * Plugin Name: wpfleet mail\n"
            f" * Description: outgoing mail of site {site.name} ({HEADER}).\n */\n"
            "if (!defined('ABSPATH')) {\n    exit;\n}\n")
    failed = ("add_action('wp_mail_failed', static function ($error) {\n"
              "    error_log('wpfleet mail: not sent: ' . $error->get_error_message()%s);\n"
              "});\n")
    smtp = site.smtp
    if smtp is None:
        return head + ("// no smtp in the stack config: PHP's mail() has no mail server in the "
                       "container,\n// so mail does not leave the box; say so in the log\n"
                       + failed % " . ' (no smtp configured for this site in wpfleet)'")
    secure = ("ssl" if smtp.port == 465 else "tls") if smtp.tls else ""
    auth = ""
    if smtp.user is not None:
        auth = ("    $mailer->SMTPAuth = true;\n"
                f"    $mailer->Username = {php_literal(smtp.user)};\n"
                "    // a secret: read from the mounted file the environment names (never the\n"
                "    // value itself in the environment or in this file)\n"
                f"    $file = (string) getenv('{SMTP_PASSWORD_ENV}_FILE');\n"
                "    $mailer->Password = $file === '' ? ''\n"
                "        : rtrim((string) @file_get_contents($file), \"\\r\\n\");\n")
    sender = php_literal(smtp.from_address)
    return head + (
        "add_action('phpmailer_init', static function ($mailer) {\n"
        "    $mailer->isSMTP();\n"
        f"    $mailer->Host = {php_literal(smtp.host)};\n"
        f"    $mailer->Port = {smtp.port};\n"
        f"    $mailer->SMTPSecure = {php_literal(secure)};  // '': no TLS at all (smtp.tls: false)\n"
        f"    $mailer->SMTPAutoTLS = {php_literal(smtp.tls)};\n"
        f"{auth}"
        f"    $mailer->Sender = {sender};  // envelope sender (bounces)\n"
        "});\n"
        f"add_filter('wp_mail_from', static function () {{\n    return {sender};\n}});\n"
        + failed % "")


__all__ = ["config_php", "limit_request_body", "mail_plugin", "php_ini", "php_literal",
           "site_mounts"]
