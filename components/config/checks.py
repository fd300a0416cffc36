"""Low-level validators for stack config values.

Every check appends a one-sentence problem (naming the config key, the bad value and the
fix) to a shared list instead of raising, so a user sees every mistake in one run.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

SITE_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
# RFC 1123 hostname: labels of letters, digits and inner hyphens, at least one dot.
LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
POSIX_USER_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}$")
URL_PATH_RE = re.compile(r"^/[A-Za-z0-9._~/-]*$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# docker image reference: [registry[:port]/]repo[:tag][@sha256:digest]
IMAGE_RE = re.compile(
    r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)
# config keys → Python type names users understand
TYPE_NAMES = {bool: "a boolean (true/false)", int: "a whole number", str: "a string",
              list: "a list", dict: "a mapping"}


def show(value: Any) -> str:
    """Render a bad value for a message: repr keeps newlines and quotes visible."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Problems:
    """Collects config problems; `key` is the full config path, e.g. wpfleet:sites[0].port."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, key: str, value: Any, why: str) -> None:
        self.items.append(f"{key}: {show(value)} {why}")

    def __bool__(self) -> bool:
        return bool(self.items)


def take(p: Problems, key: str, raw: dict[str, Any], field: str, kind: type,
         default: Any = None, required: bool = False) -> Any:
    """Read raw[field], checking its type; returns default when absent or wrong."""
    full = f"{key}.{field}"
    if field not in raw or raw[field] is None:
        if required:
            p.items.append(f"{full}: is required but missing; set it in the stack config")
        return default
    value = raw[field]
    # bool is a subclass of int: `port: true` must not pass as a number
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        p.add(full, value, f"must be {TYPE_NAMES.get(kind, kind.__name__)}")
        return default
    return value


def unknown_keys(p: Problems, key: str, raw: dict[str, Any], allowed: set[str]) -> None:
    for k in raw:
        if k not in allowed:
            p.add(f"{key}.{k}", raw[k],
                  f"is not a known setting (typo?); allowed here: {', '.join(sorted(allowed))}")


def is_hostname(value: str) -> bool:
    if not isinstance(value, str) or len(value) > 253 or value != value.strip():
        return False
    labels = value.split(".")
    return len(labels) >= 2 and all(LABEL_RE.match(label) for label in labels) \
        and not labels[-1].isdigit()


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def check_domain(p: Problems, key: str, value: str) -> None:
    if not is_hostname(value):
        p.add(key, value, "is not a valid domain name (lower-case letters, digits, hyphens and "
              "dots only, e.g. blog.example.org)")


def check_port(p: Problems, key: str, value: int, low: int = 1024) -> None:
    if not low <= value <= 65535:
        p.add(key, value, f"must be a port between {low} and 65535")


def check_http_url(p: Problems, key: str, value: str, schemes: tuple[str, ...]) -> None:
    """A plain URL: scheme in `schemes`, a host, optional port and path; nothing else."""
    parts = urlsplit(value) if isinstance(value, str) else None
    ok = False
    if parts and parts.scheme in schemes and not re.search(r"[\s'\"`$;\\<>{}|]", value):
        try:
            host, port = parts.hostname or "", parts.port
            ok = (is_hostname(host) or is_ip(host) or host == "localhost") \
                and not parts.username and not parts.password and not parts.query \
                and not parts.fragment and (port is None or 1 <= port <= 65535) \
                and (parts.path == "" or URL_PATH_RE.match(parts.path) is not None)
        except ValueError:
            ok = False
    if not ok:
        p.add(key, value, f"must be a plain {' or '.join(schemes)} URL such as "
              f"{schemes[0]}://127.0.0.1:8180 (no credentials, query, quotes or spaces)")


def check_abs_path(p: Problems, key: str, value: str) -> None:
    if not re.match(r"^/[A-Za-z0-9._/-]*$", value) or "/../" in value + "/":
        p.add(key, value, "must be an absolute path of letters, digits, '.', '_', '-' and '/'")


# Host key types both connections can verify: pulumi-command pins ssh-rsa to SHA-1 signatures,
# which OpenSSH >= 8.8 no longer offers, so an ssh-rsa pin fails there.
HOST_KEY_RE = re.compile(r"^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}$")


def keyscan_hint(host: str, port: int) -> str:
    """The exact command whose output is an accepted wpfleet:box.hostKey value."""
    return f"ssh-keyscan -p {port} -t ed25519 {host} 2>/dev/null | cut -d' ' -f2-"


KEY_TYPE_RE = re.compile(r"^(ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp(256|384|521))$")
BASE64_RE = re.compile(r"^[A-Za-z0-9+/]+={0,3}$")


def normalise_host_key(value: str) -> str:
    """The "TYPE BASE64" inside what a user pasted: a known_hosts or ssh-keyscan line
    ("blog.example.org ssh-ed25519 AAAA...", "[host]:2222 ssh-ed25519 AAAA...") or a .pub file
    line with its comment ("ssh-ed25519 AAAA... root@blog"). Anything else is returned as is
    (and refused by check_host_key with what to cut)."""
    lines = [ln for ln in value.strip().splitlines() if ln.strip() and not ln.startswith("#")]
    if len(lines) != 1:
        return value
    words = lines[0].split()
    at = [i for i, w in enumerate(words) if KEY_TYPE_RE.match(w)]
    if len(at) != 1 or at[0] > 1 or at[0] + 1 >= len(words) or not BASE64_RE.match(words[at[0] + 1]):
        return value
    return f"{words[at[0]]} {words[at[0] + 1]}"


def check_host_key(p: Problems, key: str, value: str | None, host: str, port: int) -> None:
    """A remote box must pin its host key: both connections then verify it, none skips it."""
    hint = keyscan_hint(host, port)
    if value is None:
        p.items.append(f"{key}: is required for a remote box (without it the commands would not "
                       f"verify the box at all); set it to the output of `{hint}`")
    elif value.startswith("ssh-rsa "):
        p.add(key, value, f"is an ssh-rsa key: {RSA_WHY}; pin the box's ed25519 key: `{hint}`")
    elif len([ln for ln in value.splitlines() if ln.strip()]) > 1:
        p.add(key, value, "holds several lines (ssh-keyscan prints one per key type); keep only "
              f"the ssh-ed25519 one, or paste the output of `{hint}`")
    elif not HOST_KEY_RE.match(value):
        p.add(key, value, "must be one public host key \"TYPE BASE64\" (e.g. \"ssh-ed25519 "
              f"AAAAC3...\"), nothing else on the line; paste the output of `{hint}`")


# one reason, said the same way wherever an RSA host key comes up
RSA_WHY = ("wpfleet cannot pin it (pulumi-command checks an RSA host key only with SHA-1 "
           "signatures, which OpenSSH >= 8.8 no longer makes)")


def check_ssh_move(p: Problems, k: str, port: int, new_port: int | None, harden: bool,
                   host_key: str | None) -> None:
    """box.newPort: the first of two `up`s that move sshd; hardenSsh's algorithm policy."""
    if new_port is not None:
        check_port(p, f"{k}.newPort", new_port, low=1)
        if not harden:
            p.add(f"{k}.newPort", new_port, f"needs {k}.hardenSsh: true (the sshd drop-in is what "
                  "opens the new port); set it, or remove newPort")
        elif new_port == port:
            p.add(f"{k}.newPort", new_port, f"equals {k}.port: the move is done; remove newPort")
    if harden and host_key is not None and host_key.startswith("ecdsa-"):
        p.add(f"{k}.hostKey", host_key.split(" ", 1)[0], f"is not offered by the hardened sshd "
              f"({k}.hardenSsh: true drops ecdsa host keys; its RSA key stays, but {RSA_WHY}); "
              "pin the box's ed25519 key instead")


def loopback_port(url: str) -> int | None:
    """The port of an http(s) URL on this box's loopback (127.0.0.0/8, ::1, localhost), or None."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return None
    local = host == "localhost" or (is_ip(host) and ipaddress.ip_address(host).is_loopback)
    if not local:
        return None
    return port if port is not None else {"http": 80, "https": 443}.get(parts.scheme)
