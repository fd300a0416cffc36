"""Config rules for the unattended WordPress install: per-site title/admin keys, admin passwords.

Kept apart from parser.py so the install's keys stay in one place. Password values are
secrets: messages name the key, never the value.
"""

from __future__ import annotations

import re
from typing import Any

from components.config import checks
from components.config.checks import Problems, take
from components.config.model import ADMIN_PASSWORDS_KEY, NAMESPACE, StackConfig

SITE_INSTALL_KEYS = ("title", "adminUser", "adminEmail")
# WordPress's user_login: at most 60 characters of letters, digits, space _ . - @ (sanitize_user)
ADMIN_USER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{2,59}$")
GUESSED_USERS = {"admin", "administrator", "root", "wordpress", "user"}
MIN_PASSWORD = 12


def site_install(p: Problems, k: str, raw: dict[str, Any]) -> dict[str, Any]:
    """SiteConfig's install fields from a site entry `k` (e.g. wpfleet:sites[0])."""
    title = take(p, k, raw, "title", str)
    if title is not None and (not title.strip() or len(title) > 200
                              or any(ord(c) < 32 or ord(c) == 127 for c in title)):
        p.add(f"{k}.title", title, "must be one line of 1 to 200 printable characters")
        title = None
    user = take(p, k, raw, "adminUser", str, "wpfleet")
    if not ADMIN_USER_RE.match(user):
        p.add(f"{k}.adminUser", user, "must be 3 to 60 letters, digits, '_', '.', '-' or '@', "
              "starting with a letter or digit")
    elif user.lower() in GUESSED_USERS:
        p.add(f"{k}.adminUser", user, "is among the first logins password-guessing bots try; "
              "pick a less obvious one")
    email = take(p, k, raw, "adminEmail", str)
    if email is not None and not checks.EMAIL_RE.match(email):
        p.add(f"{k}.adminEmail", email, "is not a valid e-mail address")
    return {"title": title, "admin_user": user, "admin_email": email}


def install_checks(p: Problems, stack: StackConfig, site_idx: list[int], passwords: Any) -> None:
    for i, site in zip(site_idx, stack.sites, strict=True):
        if site.admin_email is None and stack.acme.email is None:
            p.items.append(f"{NAMESPACE}:sites[{i}].adminEmail: is required because "
                           f"{NAMESPACE}:acme.email is not set (WordPress needs an admin e-mail)")
    key = f"{NAMESPACE}:{ADMIN_PASSWORDS_KEY}"
    if passwords is None or _is_cipher(passwords):  # a stack file's encrypted whole object
        return
    if not isinstance(passwords, dict):
        p.items.append(f"{key}: must be a mapping of site name to password; set each with "
                       f"`pulumi config set --secret --path '{key}.SITE' ...`")
        return
    names = {s.name for s in stack.sites}
    for name, value in passwords.items():
        if name not in names:
            p.items.append(f"{key}.{name}: names no site in {NAMESPACE}:sites; remove it "
                           f"(`pulumi config rm --path '{key}.{name}'`)")
        elif _is_cipher(value):
            continue
        elif not isinstance(value, str) or len(value) < MIN_PASSWORD or "\n" in value \
                or "\r" in value:
            p.items.append(f"{key}.{name}: must be one line of at least {MIN_PASSWORD} "
                           f"characters (value not shown); or remove it to get a generated one")


def _is_cipher(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


__all__ = ["SITE_INSTALL_KEYS", "install_checks", "site_install"]
