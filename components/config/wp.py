"""Rules for the per-site day-to-day keys: `php`, `cronMinutes`, `smtp`, `wpConfig`.

`site_extras()` reads them from one raw site entry and returns SiteConfig keyword arguments;
each problem names the key, the value and the fix (see components/config/checks.py).
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Any

from components.config import checks
from components.config.checks import Problems, take, unknown_keys
from components.config.model import PhpConfig, SmtpConfig

SITE_KEYS = ("php", "cronMinutes", "smtp", "wpConfig")
CONSTANT_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
# constants wpfleet or the WordPress image already define: a second define() would be ignored
# with a warning, so a user setting one would silently get the other value
RESERVED = frozenset({
    "ABSPATH", "DB_NAME", "DB_USER", "DB_PASSWORD", "DB_HOST", "DB_CHARSET", "DB_COLLATE",
    "AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT",
    "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT", "WP_DEBUG", "WP_HOME", "WP_SITEURL",
    "DISABLE_WP_CRON"})
LIMITS = {"uploadMaxMb": (1, 4096), "memoryLimitMb": (32, 16384),
          "maxExecutionSeconds": (1, 300)}  # 300 s: Debian's Apache Timeout for the proxy


def site_extras(p: Problems, k: str, raw: dict[str, Any], memory_mb: int) -> dict[str, Any]:
    """SiteConfig keyword arguments for the keys in SITE_KEYS (defaults when absent)."""
    cron = take(p, k, raw, "cronMinutes", int, 5)
    if not 0 <= cron <= 59:
        p.add(f"{k}.cronMinutes", cron, "must be between 1 and 59 (minutes between WP-Cron "
              "runs by the box timer), or 0 to keep WordPress's own page-load cron")
    return {"php": _php(p, f"{k}.php", take(p, k, raw, "php", dict, {}), memory_mb),
            "cron_minutes": cron,
            "smtp": _smtp(p, f"{k}.smtp", raw["smtp"]) if raw.get("smtp") is not None else None,
            "wp_config": _wp_config(p, f"{k}.wpConfig", take(p, k, raw, "wpConfig", dict, {}))}


def _php(p: Problems, k: str, raw: dict[str, Any], memory_mb: int) -> PhpConfig:
    unknown_keys(p, k, raw, set(LIMITS))
    d = PhpConfig()
    default_memory = min(d.memory_limit_mb, memory_mb)  # never above the container's own
    values = {f: take(p, k, raw, f, int, default) for f, default in (
        ("uploadMaxMb", d.upload_max_mb), ("memoryLimitMb", default_memory),
        ("maxExecutionSeconds", d.max_execution_seconds))}
    for f, (low, high) in LIMITS.items():
        if not low <= values[f] <= high:
            p.add(f"{k}.{f}", values[f], f"must be between {low} and {high}")
    if values["memoryLimitMb"] > memory_mb:
        p.add(f"{k}.memoryLimitMb", values["memoryLimitMb"],
              f"is above the replica's memoryMb ({memory_mb}); lower it or raise memoryMb")
    return PhpConfig(upload_max_mb=values["uploadMaxMb"], memory_limit_mb=values["memoryLimitMb"],
                     max_execution_seconds=values["maxExecutionSeconds"])


def _smtp(p: Problems, k: str, raw: Any) -> SmtpConfig | None:
    if not isinstance(raw, dict):
        p.add(k, raw, "must be a mapping with host, port, user and from")
        return None
    unknown_keys(p, k, raw, {"host", "port", "user", "from", "tls"})
    before = len(p.items)
    host = take(p, k, raw, "host", str, required=True)
    if host is not None and not (checks.is_hostname(host) or checks.is_ip(host)):
        p.add(f"{k}.host", host, "must be a hostname or IP address such as smtp.example.org")
    port = take(p, k, raw, "port", int, 587)
    checks.check_port(p, f"{k}.port", port, low=1)
    user = take(p, k, raw, "user", str)
    if user is not None and not re.match(r"^[A-Za-z0-9._%+@=-]{1,128}$", user):
        p.add(f"{k}.user", user, "must be an SMTP user name (letters, digits, . _ % + @ = -)")
    sender = take(p, k, raw, "from", str, required=True)
    if sender is not None and not checks.EMAIL_RE.match(sender):
        p.add(f"{k}.from", sender, "must be an e-mail address such as wordpress@example.org")
    tls = take(p, k, raw, "tls", bool, True)
    if tls is False and host is not None:
        _check_plain_smtp(p, k, host, user)
    if len(p.items) > before or host is None or sender is None:
        return None
    return SmtpConfig(host=host, port=port, user=user, from_address=sender, tls=tls)


def _check_plain_smtp(p: Problems, k: str, host: str, user: str | None) -> None:
    """`tls: false` lowers security: valid only where it stands, for a relay on a trusted network.

    A `tls: false` meant for the site but indented under `smtp` would otherwise send mail (and
    the SMTP password) in clear to a public relay without a word.
    """
    ip = ipaddress.ip_address(host) if checks.is_ip(host) else None
    if ip is None or not (ip.is_private or ip.is_loopback):
        p.add(f"{k}.tls", False, f"sends mail in clear to {host}: tls: false is only for a relay "
              "on a trusted network, given as a private IP address (e.g. 10.0.0.5, or the Docker "
              "host 172.17.0.1); if you meant the site's tls, indent it under the site, not under "
              "smtp")
    elif user is not None and not ip.is_loopback:
        p.add(f"{k}.tls", False, f"would send the SMTP password of {user} across the network "
              f"in clear to {host}; use TLS (port 465, or STARTTLS on 587) for a relay that needs "
              "a login, or drop user")


def _wp_config(p: Problems, k: str, raw: dict[str, Any]
               ) -> tuple[tuple[str, str | int | float | bool], ...]:
    out: list[tuple[str, str | int | float | bool]] = []
    for name, value in raw.items():
        key = f"{k}.{name}"
        if not isinstance(name, str) or not CONSTANT_RE.match(name):
            p.add(key, name, "is not a constant name: use upper-case letters, digits and _ "
                  "(e.g. WP_POST_REVISIONS)")
        elif name in RESERVED or name.startswith("WPFLEET_"):
            p.add(key, name, "is set by wpfleet or the WordPress image; remove it (see "
                  "docs/wordpress.md for the key that controls it)")
        elif not isinstance(value, (str, int, float, bool)):
            p.add(key, value, "must be a single value (string, number or true/false), "
                  "not a list or mapping")
        elif isinstance(value, float) and not math.isfinite(value):
            p.add(key, value, "must be a finite number")
        elif isinstance(value, str) and (re.search(r"[\x00-\x1f\x7f]", value)
                                         or len(value) > 1024):
            p.add(key, value, "must be one line of text (no control characters, "
                  "at most 1024 characters)")
        else:
            out.append((name, value))
    return tuple(out)


__all__ = ["RESERVED", "SITE_KEYS", "site_extras"]
