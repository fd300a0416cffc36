"""`python -m components.render STACK_FILE OUT_DIR`: write what the stack would put on the box.

Reads `Pulumi.<stack>.yaml` the way `pulumi up` does (components/render/stackfile.py: repeated
keys, keys outside `wpfleet:` and mis-indented settings are refused with their line; secure:
values are neither needed nor decrypted), validates it with the program's own rules, and writes:
- every box file at its box path under OUT_DIR, every command script as
  OUT_DIR/commands/<resource-name>.sh (and .update.sh / .delete.sh);
- OUT_DIR/plan/: every resource `up` would register (containers, networks, volumes, images…),
  recorded by running the program itself under Pulumi mocks, secrets masked.
A `wpfleet:boxes` stack writes all of that once per box under OUT_DIR/<box>/ (a `wpfleet:box`
stack keeps the flat layout above: it is the one box `default`).
OUT_DIR then holds exactly this render: files of an earlier render that this one did not write
(a removed site's conf) are deleted. A non-empty OUT_DIR without the marker file that a render
leaves is refused, so no other directory is ever cleaned. Contacts nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
from pathlib import Path
from typing import Any

import pulumi

from components.config import (
    RESTIC_PASSWORDS_KEY,
    SSH_KEYS_KEY,
    ConfigError,
    FleetConfig,
    StackConfig,
    fleet_backup,
    name_prefix,
    parse,
)
from components.config import fleet as config_fleet
from components.render import BoxPlan, owned, plan, stackfile, summary
from components.render.resource_plan import boxes as plan_boxes
from components.render.resource_plan import dump as plan_dump
from components.render.resource_plan import view as plan_view

MARKER = ".wpfleet-render"
MARKER_TEXT = ("# Written by `python -m components.render`. Each render deletes the files of this\n"
               "# directory that it did not write itself; the files of the last render:\n")


def read_stack_file(path: Path) -> tuple[stackfile.StackFile, StackConfig]:
    """Parse and validate a stack file like `up`; every problem names its line."""
    sf = stackfile.read(path)
    try:
        stack = parse(sf.raw, sf.secret_keys)
    except ConfigError as e:
        raise ConfigError([sf.locate(p) for p in e.problems]) from None
    problems = stackfile.secret_problems(sf, stack)
    if problems:
        raise ConfigError(problems)
    return sf, stack


def read_fleet_file(path: Path) -> tuple[stackfile.StackFile, FleetConfig]:
    """Like read_stack_file, for a stack with one box (`wpfleet:box`) or several (`boxes`)."""
    sf = stackfile.read(path)
    try:
        fleet = config_fleet.parse(sf.raw, sf.secret_keys)
    except ConfigError as e:
        raise ConfigError([sf.locate(p) for p in e.problems]) from None
    problems = [sf.locate(p) for p in config_fleet.missing_ssh_keys(fleet, sf.raw)]
    problems += [sf.locate(p) for p in fleet_backup.missing_passwords(fleet, sf.raw)]
    problems += stackfile.secret_problems(sf, fleet.union)  # the union: no per-box rule
    if problems:
        raise ConfigError(problems)
    return sf, fleet


def _per_box_keys(sf: stackfile.StackFile, fleet: FleetConfig) -> stackfile.StackFile:
    """`sshPrivateKeys` or `resticPasswords` set as one encrypted map: its box names are unseen,
    assume every box (with backups, for the restic passwords)."""
    boxes = {SSH_KEYS_KEY: fleet.names,
             RESTIC_PASSWORDS_KEY: [n for n, st in fleet.boxes if st.backup is not None]}
    raw = {**sf.raw}
    for key, names in boxes.items():
        if stackfile.is_secure(raw.get(key)):
            raw[key] = dict.fromkeys(names, raw[key])
    return dataclasses.replace(sf, raw=raw) if raw != sf.raw else sf


def fleet_files(fleet: FleetConfig, resources: list[plan_dump.Resource]) -> dict[str, tuple[str, int]]:
    """Every file of the render: flat for `wpfleet:box`, under <box>/ for `wpfleet:boxes`."""
    if fleet.legacy:
        stack = fleet.boxes[0][1]
        files = box_files(plan(stack), name_prefix(fleet.names[0]))
        files.update({rel: (text, 0o644) for rel, text in plan_view.files(resources, stack).items()})
        return files
    owner = plan_boxes.owners(resources, fleet)
    files = {}
    for name, stack in fleet.boxes:
        mine = [r for r in resources if owner.get(r.urn) == name]
        files.update({f"{name}/{rel}": v
                      for rel, v in box_files(plan(stack), name_prefix(name)).items()})
        files.update({f"{name}/{rel}": (text, 0o644)
                      for rel, text in plan_view.files(mine, stack).items()})
    return files


def box_files(box_plan: BoxPlan, prefix: str = "") -> dict[str, tuple[str, int]]:
    """The files and scripts of one box; each script as its resource runs it (PREFIX + name:
    the owner its stamps name, components/render/command.py `owned`)."""
    files = {path.lstrip("/"): (text, 0o644) for path, text in box_plan.files.items()}
    for cmd in (owned(c, prefix + c.name) for c in box_plan.commands):
        files[f"commands/{cmd.name}.sh"] = (cmd.create, 0o755)
        if cmd.update is not None and cmd.update != cmd.create:
            files[f"commands/{cmd.name}.update.sh"] = (cmd.update, 0o755)
        if cmd.delete is not None:
            files[f"commands/{cmd.name}.delete.sh"] = (cmd.delete, 0o755)
    return files


def write_plan(box_plan: BoxPlan, out: Path) -> list[Path]:
    """Write a box plan's files and scripts under `out` (cleaning it like a render)."""
    return write(box_files(box_plan), out)[0]


def check_out_dir(out: Path) -> None:
    """Only an empty directory or an earlier render's output may be written (and cleaned)."""
    if out.exists() and not out.is_dir():
        raise ConfigError([f"{out}: OUT_DIR exists and is not a directory; choose another path"])
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise ConfigError([f"{out}: OUT_DIR is not empty and holds no {MARKER} file, so it is "
                           "not an earlier render's output; render cleans OUT_DIR, so choose "
                           "an empty or new directory"])


def write(files: dict[str, tuple[str, int]], out: Path) -> tuple[list[Path], list[Path]]:
    """Delete what this render will not write, then write every file; (written, removed)."""
    check_out_dir(out)
    keep = {out / MARKER, *(out / rel for rel in files)}
    removed: list[Path] = []
    if out.is_dir():  # first clean, so no symlink left in OUT_DIR can redirect a write
        for root, dirs, names in os.walk(out, topdown=False):
            for name in names + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
                path = Path(root, name)
                if path not in keep or path.is_symlink():
                    path.unlink()  # a symlink itself, never what it points to
                    if path not in keep:
                        removed.append(path)
            if Path(root) != out and not os.listdir(root):
                os.rmdir(root)
    written: list[Path] = []
    for rel, (text, mode) in sorted(files.items()):
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        os.chmod(target, mode)
        written.append(target)
    (out / MARKER).write_text(MARKER_TEXT + "".join(f"{rel}\n" for rel in sorted(files)))
    return written, removed


def arguments() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="python -m components.render",
        description="Write every file and command script a wpfleet stack would put on its "
                    "box(es), and the resources `pulumi up` would create, without contacting "
                    "anything. Validates the stack file with the same rules as `pulumi up`.",
        epilog="Run it with the Python that has requirements.txt installed (the venv/ that "
               "`pulumi up` makes, or .venv/ of the tests). Secrets are never read: a secret "
               "set with `pulumi config set --secret` is a `secure:` value in the stack file; "
               "before they are set, --without-secrets renders anyway. docs/config.md has the "
               "details.")
    cli.add_argument("stack_file", metavar="STACK_FILE", type=Path,
                     help="the stack file, e.g. Pulumi.mybox.yaml")
    cli.add_argument("out", metavar="OUT_DIR", type=Path,
                     help="a new or empty directory, or an earlier render's (it is cleaned)")
    cli.add_argument("--diff", action="store_true",
                     help="show what changed in OUT_DIR since the last render (unified diffs)")
    cli.add_argument("--without-secrets", action="store_true",
                     help="render even if secrets the stack needs are not set yet (they are "
                          "listed; `pulumi up` refuses the stack until they are)")
    cli.add_argument("--list", action="store_true", help="also list every file written")
    return cli


def _missing_secret(problem: str) -> bool:
    return any(words in problem for words in (": is required by this stack but not set;",
                                              ": is required by box ",
                                              ": is required by the backups of box "))


def main(argv: list[str]) -> int:
    args = arguments().parse_args(argv)
    stack_file, out = args.stack_file, args.out
    try:
        try:
            sf, fleet = read_fleet_file(stack_file)
        except ConfigError as e:
            if not args.without_secrets or not all(_missing_secret(p) for p in e.problems):
                raise
            for problem in e.problems:
                print(f"note: {problem}", file=sys.stderr)
            sf = stackfile.read(stack_file)
            fleet = config_fleet.parse(sf.raw, sf.secret_keys)
            sf = _with_placeholders(sf, fleet)
        for note in sf.notes:
            print(f"note: {note}", file=sys.stderr)
        check_out_dir(out)
        match = re.fullmatch(r"Pulumi\.(.+)\.ya?ml", stack_file.name)
        try:
            resources = plan_dump.record(_per_box_keys(sf, fleet), fleet.union,
                                         match.group(1) if match else "render")
        except ConfigError:
            raise
        except pulumi.RunError as e:  # what `up` would stop on, e.g. a missing secret name
            raise ConfigError([str(e)]) from None
        files = fleet_files(fleet, resources)
        before = previous(out)
        written, removed = write(files, out)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        if any(_missing_secret(p) for p in e.problems) and not args.without_secrets:
            print("note: to see the render before the secrets are set, add --without-secrets",
                  file=sys.stderr)
        return 1
    print(f"wrote {len(written)} files under {out}")
    if args.list:
        for path in written:
            print(f"  {path}")
    for path in removed:
        print(f"removed {path} (not part of this render)")
    text = {rel: t for rel, (t, _) in files.items()}
    for line in summary.lines(fleet, text, [r.type for r in resources]):
        print(line)
    for line in summary.changes(before, text, args.diff):
        print(line)
    return 0


def previous(out: Path) -> dict[str, str]:
    """The files of the render already in OUT_DIR (by its marker), for the comparison."""
    marker = out / MARKER
    if not marker.is_file():
        return {}
    rels = [ln for ln in marker.read_text().splitlines() if ln and not ln.startswith("#")]
    found = {}
    for rel in rels:
        path = out / rel
        if path.is_file() and not path.is_symlink():
            found[rel] = path.read_text(errors="replace")
    return found


def _with_placeholders(sf: stackfile.StackFile, fleet: FleetConfig) -> stackfile.StackFile:
    """--without-secrets: each missing secret the stack needs stands as a `secure:` value."""
    present = set(sf.raw)
    missing = [p.split(":", 2)[1].split(":", 1)[0] for p in config_fleet.missing_secrets(fleet, sf.raw)]
    needed = {m.split(".", 1)[0] for m in missing}
    fill: dict[str, Any] = {k: {"secure": "not-set"} for k in needed - present}
    for key, _, entry in (m.partition(".") for m in missing):  # an entry of a map that is set
        if key in present and entry and isinstance(sf.raw[key], dict):
            fill[key] = {**fill.get(key, sf.raw[key]), entry: {"secure": "not-set"}}
    return dataclasses.replace(sf, raw={**sf.raw, **fill}, secret_keys=sf.secret_keys | set(fill))


def run(argv: list[str]) -> int:
    """main(), quiet on a closed pipe (`... | head`)."""
    try:
        code = main(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader went away: nothing more to say (and no traceback at exit either)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return code


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
