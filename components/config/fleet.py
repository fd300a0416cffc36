"""Several boxes in one stack: `wpfleet:boxes`, parsed into one `StackConfig` per box.

A stack with `wpfleet:box` (today's form) is one box named `default`. With `wpfleet:boxes`,
each box holds what `wpfleet:box` holds plus its own `apache`, `firewall` and `duckdns`, and
may override the stack-wide `backup` (fleet_backup.py);
every site and backend names its box with `box:` (optional when there is one box). Each box's
view is validated by the single-box rules (`parser.parse`, so ports are unique per box),
with messages rewritten to the keys the user wrote (`wpfleet:boxes.web2.port`,
`wpfleet:sites[4].port`); then the rules across boxes: box names, one host+port per box, names
and domains unique across the stack. Every render function and component keeps taking a
`StackConfig`: they work per box without knowing about the others.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection
from typing import Any

import pulumi

from components.config import fleet_backup, parser, runtime, secrets
from components.config.checks import Problems
from components.config.model import (
    ADMIN_PASSWORDS_KEY,
    DEFAULT_BOX,
    NAMESPACE,
    SSH_KEY_KEY,
    SSH_KEYS_KEY,
    BackendConfig,
    ConfigError,
    FleetConfig,
    FleetSecrets,
    SiteConfig,
    StackConfig,
)
from components.config.secrets import set_path_hint, set_secret_hint

NS = NAMESPACE
BOXES_KEY = "boxes"
BOX_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
BOX_SECTIONS = ("apache", "firewall", "duckdns")  # per box under wpfleet:boxes.NAME
BOX_OVERRIDES = (fleet_backup.BACKUP_KEY,)  # stack-wide defaults a box may override
RENAMED_FROM = "renamedFrom"  # wpfleet:boxes.NAME.renamedFrom: the box's previous name
_ENTRY_KEYS = ("sites", "backends")


def parse(raw: dict[str, Any], secret_keys: set[str] | None = None) -> FleetConfig:
    """Validate the namespace-stripped config map; raise ConfigError listing every problem."""
    if BOXES_KEY not in raw:
        box = raw.get("box")
        was = box.get(RENAMED_FROM) if isinstance(box, dict) else None
        if isinstance(box, dict) and RENAMED_FROM in box:
            raw = {**raw, "box": {k: v for k, v in box.items() if k != RENAMED_FROM}}
        stack = parser.parse(raw, secret_keys)
        problems = _renamed_from(f"{NS}:box", DEFAULT_BOX, was, [DEFAULT_BOX])
        fleet = FleetConfig(boxes=((DEFAULT_BOX, _named(stack, DEFAULT_BOX, was)),))
        problems += _ssh_key_names(fleet, raw) + fleet_backup.password_names(fleet, raw)
        if problems:
            raise ConfigError(problems)
        return fleet_backup.with_password_keys(fleet, raw)
    p = Problems()
    if "box" in raw:
        p.items.append(f"{NS}:box: cannot be set together with {NS}:boxes; move its settings "
                       f"to {NS}:boxes.{DEFAULT_BOX} (a box named {DEFAULT_BOX} keeps the "
                       "resource names of a wpfleet:box stack)")
    for key in BOX_SECTIONS:
        if key in raw:
            p.items.append(f"{NS}:{key}: is set per box with {NS}:boxes; move it to "
                           f"{NS}:boxes.NAME.{key}")
    boxes = raw[BOXES_KEY]
    if not isinstance(boxes, dict) or not boxes:
        p.add(f"{NS}:boxes", boxes, "must be a mapping of box name to its settings "
              "(host, port, user, ...)")
        raise ConfigError(p.items)
    for name, settings in boxes.items():
        if not isinstance(name, str) or not BOX_NAME_RE.match(name):
            p.add(f"{NS}:boxes", name, "is not a valid box name: use [a-z][a-z0-9-]{0,30}, "
                  "e.g. web2")
        elif not isinstance(settings, dict):
            p.add(f"{NS}:boxes.{name}", settings, "must be a mapping with host, port, user, ...")
    if p:
        raise ConfigError(p.items)
    placed = {key: _place(p, raw, key, list(boxes)) for key in _ENTRY_KEYS}
    p.items += fleet_backup.env_repository(raw, boxes)
    views: list[tuple[str, StackConfig]] = []
    claimed: dict[str, str] = {}  # old name -> the box that says it was renamed from it
    for name, settings in boxes.items():
        p.items += fleet_backup.box_problems(name, settings)
        was = settings.get(RENAMED_FROM)
        p.items += _renamed_from(f"{NS}:boxes.{name}", name, was, list(boxes))
        if isinstance(was, str) and was in claimed:
            p.add(f"{NS}:boxes.{name}.{RENAMED_FROM}", was, f"is already claimed by box "
                  f"{claimed[was]}: one old box becomes one new box")
        elif isinstance(was, str):
            claimed[was] = name
        view = _box_raw(raw, name, {k: v for k, v in settings.items() if k != RENAMED_FROM},
                        placed)
        try:
            views.append((name, _named(parser.parse(view, secret_keys), name, was)))
        except ConfigError as e:
            for problem in e.problems:
                p.items.append(_relabel(fleet_backup.relabel(problem, name, settings), name,
                                        placed))
    p.items = list(dict.fromkeys(p.items))  # stack-wide problems are found once per box
    if p:
        raise ConfigError(p.items)
    fleet = FleetConfig(boxes=tuple(views), legacy=False)
    _across_boxes(p, fleet, placed)
    _admin_password_names(p, raw, fleet)
    p.items += _ssh_key_names(fleet, raw)
    p.items += fleet_backup.password_names(fleet, raw)
    if p:
        raise ConfigError(p.items)
    return fleet_backup.with_password_keys(fleet, raw)


def _renamed_from(key: str, name: str, was: Any, names: list[str]) -> list[str]:
    """Problems of `renamedFrom` on box NAME (None: not renamed)."""
    k = f"{key}.{RENAMED_FROM}"
    if was is None:
        return []
    if not isinstance(was, str) or not BOX_NAME_RE.match(was):
        return [f"{k}: {was!r} is not a box name ([a-z][a-z0-9-]{{0,30}}); set it to the name "
                "the box had before the rename (`default` for a wpfleet:box stack)"]
    if was == name:
        return [f"{k}: {was!r} is the box's own name; remove renamedFrom"]
    if was in names:
        return [f"{k}: {was!r} is a box of this stack; renamedFrom names the box's previous "
                "name, which no box may use any more (docs/operations.md, Renaming a box)"]
    return []


def _named(stack: StackConfig, name: str, was: Any) -> StackConfig:
    """The box's view, knowing its name and the name it had (for preflight's ownership check)."""
    box = dataclasses.replace(stack.box, name=name,
                              renamed_from=was if isinstance(was, str) else None)
    return dataclasses.replace(stack, box=box)


def _place(p: Problems, raw: dict[str, Any], key: str,
           names: list[str]) -> dict[str, list[tuple[int, Any]]]:
    """Each box's entries of wpfleet:sites (or backends) with their index in the user's list."""
    out: dict[str, list[tuple[int, Any]]] = {n: [] for n in names}
    entries = raw.get(key)
    if entries is None:
        return out
    if not isinstance(entries, list):
        out[names[0]].append((-1, entries))  # that box's parse reports "must be a list"
        return out
    for i, entry in enumerate(entries):
        box = entry.get("box") if isinstance(entry, dict) else None
        if box is None and len(names) == 1:
            box = names[0]
        if box is None and isinstance(entry, dict):
            p.items.append(f"{NS}:{key}[{i}].box: is required because {NS}:boxes lists "
                           f"{len(names)} boxes; set it to one of {', '.join(names)}")
            continue
        if box is None:  # not a mapping: the first box's parse says what it must be
            box = names[0]
        if box not in out:
            p.add(f"{NS}:{key}[{i}].box", box, f"names no box in {NS}:boxes; use one of "
                  f"{', '.join(names)}")
            continue
        if isinstance(entry, dict):
            entry = {k: v for k, v in entry.items() if k != "box"}
        out[box].append((i, entry))
    return out


def _box_raw(raw: dict[str, Any], name: str, settings: dict[str, Any],
             placed: dict[str, dict[str, list[tuple[int, Any]]]]) -> dict[str, Any]:
    """The single-box config map of one box, as if it were the only one."""
    view = {k: v for k, v in raw.items()
            if k not in (BOXES_KEY, *_ENTRY_KEYS, ADMIN_PASSWORDS_KEY)}
    view["box"] = {k: v for k, v in settings.items() if k not in (*BOX_SECTIONS, *BOX_OVERRIDES)}
    view.update({k: v for k, v in settings.items() if k in BOX_SECTIONS})
    backup = fleet_backup.box_backup(raw, settings)
    if backup is not None:
        view[fleet_backup.BACKUP_KEY] = backup
    for key in _ENTRY_KEYS:
        entries = placed[key][name]
        if entries and entries[0][0] == -1:
            view[key] = entries[0][1]
        elif key in raw:
            view[key] = [entry for _, entry in entries]
    passwords = raw.get(ADMIN_PASSWORDS_KEY)
    if isinstance(passwords, dict) and set(passwords) != {"secure"}:
        here = {e.get("name") for _, e in placed["sites"][name] if isinstance(e, dict)}
        passwords = {k: v for k, v in passwords.items() if k in here}
    if passwords is not None:
        view[ADMIN_PASSWORDS_KEY] = passwords
    return view


def _relabel(problem: str, box: str, placed: dict[str, dict[str, list[tuple[int, Any]]]]) -> str:
    """A single-box message, with the keys the user wrote in the wpfleet:boxes form."""
    for key in _ENTRY_KEYS:
        index = [i for i, _ in placed[key][box]]

        def where(m: re.Match[str], key: str = key, index: list[int] = index) -> str:
            j = int(m.group(1))
            return f"{NS}:{key}[{index[j] if j < len(index) else j}]"

        problem = re.sub(rf"{NS}:{key}\[(\d+)\]", where, problem)
    problem = re.sub(rf"{NS}:({'|'.join(BOX_SECTIONS)})\b", rf"{NS}:boxes.{box}.\1", problem)
    return re.sub(rf"{NS}:box\b(?!es)", f"{NS}:boxes.{box}", problem)


def _across_boxes(p: Problems, fleet: FleetConfig,
                  placed: dict[str, dict[str, list[tuple[int, Any]]]]) -> None:
    targets: dict[tuple[str, int], str] = {}
    for name, st in fleet.boxes:
        target = (st.box.host, 0 if st.box.local else st.box.port)
        if target in targets:
            p.add(f"{NS}:boxes.{name}.host", f"{st.box.host}:{st.box.port}",
                  f"is already the box {targets[target]}; two boxes cannot be one server "
                  "(merge them, or fix the host or port)")
        else:
            targets[target] = name
    names: dict[str, tuple[str, str]] = {}  # name -> (box, key)
    domains: dict[str, tuple[str, str]] = {}
    for name, st in fleet.boxes:
        hosts: list[tuple[str, tuple[SiteConfig | BackendConfig, ...]]] = [
            ("sites", st.sites), ("backends", st.backends)]
        for key, items in hosts:
            for (i, _), item in zip(placed[key][name], items, strict=True):
                k = f"{NS}:{key}[{i}]"
                if item.name in names and names[item.name][0] != name:
                    p.add(f"{k}.name", item.name, f"is already used as a name by "
                          f"{names[item.name][1]} on box {names[item.name][0]}")
                names.setdefault(item.name, (name, f"{k}.name"))
                for d in item.domains:
                    if d in domains and domains[d][0] != name:
                        p.add(f"{k}.domain", d, f"is already served by box {domains[d][0]} "
                              f"({domains[d][1]}); a domain lives on one box")
                    domains.setdefault(d, (name, k))
    for name, st in fleet.boxes:
        for (i, _), s in zip(placed["sites"][name], st.sites, strict=True):
            used = names.get(s.renamed_from or "")
            if used is not None and used[0] != name:
                p.add(f"{NS}:sites[{i}].renamedFrom", s.renamed_from, f"is still used by "
                      f"{used[1]} on box {used[0]}: renamedFrom names the site's previous "
                      "name, which no site or backend may use any more")


def _admin_password_names(p: Problems, raw: dict[str, Any], fleet: FleetConfig) -> None:
    passwords = raw.get(ADMIN_PASSWORDS_KEY)
    if not isinstance(passwords, dict) or set(passwords) == {"secure"}:
        return
    sites = {s.name for s in fleet.sites}
    key = f"{NS}:{ADMIN_PASSWORDS_KEY}"
    for name in passwords:
        if name not in sites:
            p.items.append(f"{key}.{name}: names no site in {NS}:sites; remove it "
                           f"(`pulumi config rm --path '{key}.{name}'`)")


def _ssh_key_names(fleet: FleetConfig, raw: dict[str, Any]) -> list[str]:
    keys = raw.get(SSH_KEYS_KEY)
    if keys is None or _is_cipher(keys):
        return []
    k = f"{NS}:{SSH_KEYS_KEY}"
    if not isinstance(keys, dict):
        return [f"{k}: must be a mapping of box name to private key; set each with "
                f"`{set_secret_hint(None, SSH_KEYS_KEY)}`"]
    return [f"{k}.{name}: names no box in {NS}:boxes ({', '.join(fleet.names)}); remove it "
            f"(`pulumi config rm --path '{k}.{name}'`)"
            for name in keys if name not in fleet.names]


def _is_cipher(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def missing_secrets(fleet: FleetConfig, present: Collection[str] | dict[str, Any]) -> list[str]:
    """A problem for each secret the stack needs but lacks: the one rule of `up` and render."""
    return (missing_ssh_keys(fleet, present) + fleet_backup.missing_passwords(fleet, present)
            + secrets.missing_secrets(fleet.union, present))


def missing_ssh_keys(fleet: FleetConfig, present: Collection[str] | dict[str, Any]) -> list[str]:
    """The SSH key part of `missing_secrets`: each remote box needs its own key or the shared one."""
    per_box = present.get(SSH_KEYS_KEY) if isinstance(present, dict) else None
    if per_box is None or _is_cipher(per_box):  # an encrypted whole map: names unseen
        has = set() if per_box is None else set(fleet.names)
    else:
        has = set(per_box) if isinstance(per_box, dict) else set()
    if fleet.legacy and SSH_KEYS_KEY not in present:  # today's message, word for word
        return secrets.missing_secrets(StackConfig(box=fleet.boxes[0][1].box), present)
    problems = []
    for name, st in fleet.boxes:
        if not st.box.local and name not in has and SSH_KEY_KEY not in present:
            problems.append(
                f"{NS}:{SSH_KEYS_KEY}.{name}: is required by box {name} ({st.box.host}) because "
                f"{NS}:{SSH_KEY_KEY} (shared by all boxes) is not set; set one of them with "
                f"`{set_path_hint(f'{NS}:{SSH_KEYS_KEY}.{name}')}`")
    return problems


def load() -> tuple[FleetConfig, FleetSecrets]:
    """Read and validate the stack config from the Pulumi runtime; read the secrets it needs."""
    raw, secret_keys = runtime.read_raw()
    fleet = parse(raw, secret_keys)
    missing = missing_secrets(fleet, raw)
    if missing:
        raise ConfigError(missing)
    cfg = pulumi.Config(NAMESPACE)
    per_box = raw.get(SSH_KEYS_KEY)
    whole = cfg.require_secret_object(SSH_KEYS_KEY) if per_box is not None else None

    def key_of(name: str, st: StackConfig) -> pulumi.Output[str] | None:
        if st.box.local:
            return None
        if whole is not None and isinstance(per_box, dict) and name in per_box:
            return pulumi.Output.secret(whole.apply(lambda d: str(d[name])))
        return cfg.require_secret(SSH_KEY_KEY)

    ssh_keys = {name: key_of(name, st) for name, st in fleet.boxes}
    shared = runtime.read_secrets(fleet.union, raw)
    return fleet, FleetSecrets(shared=shared, ssh_keys=ssh_keys,
                               restic_passwords=fleet_backup.passwords(fleet, raw, shared, cfg))


__all__ = ["load", "missing_secrets", "missing_ssh_keys", "parse"]
