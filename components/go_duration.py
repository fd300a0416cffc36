"""Durations written the way Go prints them (`time.Duration.String()`), so they read back equal.

The Docker provider parses a healthcheck's `interval`/`timeout`/`start_period` with Go's
`time.ParseDuration` and stores what Docker reports back, formatted with `Duration.String()`:
"60s" comes back as "1m0s" and every `pulumi up`/`refresh` would show a diff. Writing the
canonical form in the first place makes the round trip a no-op.
"""

from __future__ import annotations

import re

NANOSECOND = 1
MICROSECOND = 1000 * NANOSECOND
MILLISECOND = 1000 * MICROSECOND
SECOND = 1000 * MILLISECOND
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

_UNITS = {"ns": NANOSECOND, "us": MICROSECOND, "µs": MICROSECOND, "μs": MICROSECOND,
          "ms": MILLISECOND, "s": SECOND, "m": MINUTE, "h": HOUR}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def _frac(value: int, prec: int) -> tuple[str, int]:
    """Go's fmtFrac: the fraction of value / 10**prec without trailing zeros, and the rest."""
    whole, frac = divmod(value, 10 ** prec)
    digits = f"{frac:0{prec}d}".rstrip("0") if prec else ""
    return (f".{digits}" if digits else ""), whole


def go_string(d: int) -> str:
    """`time.Duration(d).String()` for d nanoseconds (Go's algorithm, unit by unit)."""
    u = abs(d)
    if u < SECOND:
        if u == 0:
            return "0s"
        unit, prec = ("ns", 0) if u < MICROSECOND else ("µs", 3) if u < MILLISECOND else ("ms", 6)
        frac, whole = _frac(u, prec)
        text = f"{whole}{frac}{unit}"
    else:
        frac, secs = _frac(u, 9)
        text = f"{secs % 60}{frac}s"
        minutes = secs // 60
        if minutes:
            text = f"{minutes % 60}m{text}"
            if minutes // 60:
                text = f"{minutes // 60}h{text}"
    return "-" + text if d < 0 else text


def parse(text: str) -> int:
    """Go's `time.ParseDuration` for the forms used here: nanoseconds from "1m30s", "1.5s"."""
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if body == "0":
        return 0
    total, pos = 0, 0
    for m in _PART.finditer(body):
        if m.start() != pos:
            break
        number, unit = m.groups()
        whole, _, frac = number.partition(".")
        scale = _UNITS[unit]
        total += int(whole or "0") * scale + (int(frac) * scale // 10 ** len(frac) if frac else 0)
        pos = m.end()
    if not body or pos != len(body):
        raise ValueError(f"invalid Go duration {text!r}")
    return sign * total


def seconds(n: int) -> str:
    """A whole number of seconds in Go's form: seconds(60) == "1m0s", seconds(30) == "30s"."""
    return go_string(n * SECOND)


__all__ = ["go_string", "parse", "seconds"]
