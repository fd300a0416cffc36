"""The few lines the render CLI prints at the end: what this stack puts on its box(es).

Sites, backends, certificates, ports, timers and resources by kind, read from the validated
config, the rendered files and the recorded plan; and, against the previous render in OUT_DIR,
what changed (`changes`). Pure functions of their inputs: nothing here touches the disk.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter

from components.config import FleetConfig, StackConfig
from components.render.box.preflight import published_ports

TIMER_RE = re.compile(r"^(OnCalendar|OnUnitActiveSec)=(.+)$", re.M)


def _ranges(ports: list[int]) -> str:
    out: list[str] = []
    for p in sorted(ports):
        if out and out[-1].split("-")[-1] == str(p - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{p}"
        else:
            out.append(str(p))
    return ", ".join(out)


def box_lines(stack: StackConfig, files: dict[str, str]) -> list[str]:
    """The summary of one box: `files` maps OUT_DIR-relative paths to text."""
    a = stack.apache
    lines = [f"box       {stack.box.user}@{stack.box.host}"
             + ("" if stack.box.local else f" (SSH port {stack.box.port})")]
    for s in stack.sites:
        extras = [f"{s.replicas} replica{'s' if s.replicas > 1 else ''}",
                  "https" if s.tls else "http only", s.wordpress_image]
        if s.cache is not None:
            extras.append(f"page cache {s.cache.ttl} s")
        routes = "".join(f", {b.path} -> {b.name}" for b in stack.routes(s.name))
        lines.append(f"site      {s.name}: {', '.join(s.domains)}{routes} "
                     f"({', '.join(extras)})")
    for b in stack.own_domain_backends:
        scheme = "https" if b.tls else "http"
        lines.append(f"backend   {b.name}: {scheme}://{b.domain}{b.path} -> {b.upstream}")
    for h in stack.tls_hosts:
        lines.append(f"cert      {', '.join(h.domains)} (certbot --webroot, {stack.acme.server})")
    public = [f"Apache {a.http_port}/{a.https_port}"]
    if a.public_http_port or a.public_https_port:
        public[0] += f" (public {a.redirect_http_port}/{a.redirect_https_port})"
    if not stack.box.local:
        public.append(f"SSH {stack.box.port}"
                      + (f" and {stack.box.new_port}" if stack.box.new_port else ""))
    if stack.firewall.enabled:
        public.append("ufw on" + (f", also {', '.join(stack.firewall.allow)}"
                                  if stack.firewall.allow else ""))
    lines.append(f"ports     {'; '.join(public)}")
    loopback = published_ports(stack)
    if loopback:
        lines.append(f"loopback  127.0.0.1:{_ranges([p for p, _, _ in loopback])} (containers)")
    for path, text in sorted(files.items()):
        if path.endswith(".timer"):
            when = "; ".join(f"{k}={v}" for k, v in TIMER_RE.findall(text))
            lines.append(f"timer     {path.rsplit('/', 1)[-1]}: {when}")
    return lines


def resource_line(types: list[str]) -> str:
    """`12 Container, 6 Network, ...`: the plan's resources counted by kind."""
    counts = Counter(f"{t.rsplit(':', 1)[-1]} provider" if t.startswith("pulumi:providers:")
                     else t.rsplit(":", 1)[-1] for t in types)
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def lines(fleet: FleetConfig, files: dict[str, str], types: list[str]) -> list[str]:
    """The whole summary; `files` are OUT_DIR-relative (under <box>/ with several boxes)."""
    out: list[str] = []
    for name, stack in fleet.boxes:
        prefix = "" if fleet.legacy else f"{name}/"
        mine = {k[len(prefix):]: v for k, v in files.items() if k.startswith(prefix)}
        if not fleet.legacy:
            out.append(f"[{name}]")
        out += box_lines(stack, mine)
    out.append(f"resources {len(types)}: {resource_line(types)} (plan/resources.yaml)")
    return out


def changes(before: dict[str, str], after: dict[str, str], full: bool) -> list[str]:
    """What changed since the previous render: one line per file, or unified diffs (`full`)."""
    added = sorted(after.keys() - before.keys())
    removed = sorted(before.keys() - after.keys())
    changed = sorted(k for k in after.keys() & before.keys() if after[k] != before[k])
    if not before:
        return ["first render in this directory"]
    if not (added or removed or changed):
        return ["unchanged since the last render"]
    out = [f"since the last render: {len(changed)} changed, {len(added)} added, "
           f"{len(removed)} removed" + ("" if full else " (--diff shows them)")]
    if not full:
        return out
    out += [f"+ {k}" for k in added] + [f"- {k}" for k in removed]
    for k in changed:
        out += list(difflib.unified_diff(before[k].splitlines(), after[k].splitlines(),
                                         f"before/{k}", f"after/{k}", lineterm="", n=1))
    return out
