"""Read `Pulumi.<stack>.yaml` the way `pulumi up` does, keeping every key's line number.

Pulumi reads stack files with Go's yaml.v3 into `namespace:name` keys; PyYAML's defaults differ
in ways that silently drop settings, so this loader closes each gap:
- a key repeated in one mapping (a second `config:` or `wpfleet:sites:` block, a doubled
  `port:`) is refused — yaml.v3 refuses it too, PyYAML would keep only the last one;
- only `true`/`false` are booleans (yaml.v3 reads `yes`/`on` as strings, so `up` refuses them);
- a config key without a namespace (`port:` dedented out of `wpfleet:box:`) is refused, as
  Pulumi refuses it; `ns:config:name` is Pulumi's legacy spelling of `ns:name`;
- a top-level key other than Pulumi's own (`wpfleet:sites:` dedented out of `config:`) is refused;
- keys of other namespaces are legitimate (provider settings such as `docker:host`, Pulumi's
  `pulumi:tags`): they are kept and listed as notes, except when they look like a misspelled
  `wpfleet:` key (`wpfleet-prod:sites`, `wpflet:box`), which `up` would silently ignore.
Every problem names the file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml

from components.config import (
    BACKEND_SECRETS_KEY,
    MAP_SECRET_KEYS,
    NAMESPACE,
    PLAIN_KEYS,
    SECRET_KEYS,
    ConfigError,
    StackConfig,
    missing_secrets,
    set_path_hint,
)
from components.config.secrets import backend_secret_values

STACK_FILE_KEYS = ("config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment")
_BOOL = "tag:yaml.org,2002:bool"


class _Loader(yaml.SafeLoader):
    """SafeLoader with yaml.v3's booleans, duplicate-key errors and a line for every node."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.lines: dict[int, dict[Any, int]] = {}  # id(container) -> key/index -> line
        self.problems: list[tuple[int, str]] = []


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


def _map(loader: _Loader, node: yaml.MappingNode) -> Any:
    data: dict[Any, Any] = {}
    yield data
    first: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *anchor` may be overridden, as in yaml.v3
        key = loader.construct_object(key_node)
        line = key_node.start_mark.line + 1
        try:
            if key in first:
                loader.problems.append((line, f"`{key}` is already set at line {first[key]} of "
                                              "the same mapping; pulumi up refuses a repeated "
                                              "key: merge the two into one"))
                continue
            first[key] = line
        except TypeError:  # an unhashable key; construct_mapping reports it
            pass
    data.update(loader.construct_mapping(node))
    loader.lines[id(data)] = first


def _seq(loader: _Loader, node: yaml.SequenceNode) -> Any:
    data: list[Any] = []
    yield data
    data.extend(loader.construct_sequence(node))
    loader.lines[id(data)] = {i: n.start_mark.line + 1 for i, n in enumerate(node.value)}


_Loader.add_constructor("tag:yaml.org,2002:map", _map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _seq)


@dataclass
class StackFile:
    path: Path
    raw: dict[str, Any]  # wpfleet keys without the namespace, as parse() takes them
    secret_keys: set[str]  # wpfleet keys stored as (or holding) `secure:` values
    other: dict[str, Any]  # other namespaces' keys, full name -> value (passed to the program)
    lines: dict[str, int] = field(default_factory=dict)  # "wpfleet:sites[0].port" -> line
    notes: list[str] = field(default_factory=list)  # not errors: other namespaces' keys

    def locate(self, problem: str) -> str:
        """Prefix a problem that starts with a config key path with `FILE:LINE: `."""
        best = ""
        for key in self.lines:
            if len(key) > len(best) and problem.startswith(key) \
                    and problem[len(key):len(key) + 1] in ("", ":", ".", "[", " "):
                best = key
        return f"{self.path}:{self.lines[best]}: {problem}" if best else f"{self.path}: {problem}"


def is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def has_secure(value: Any) -> bool:
    if is_secure(value):
        return True
    if isinstance(value, dict):
        return any(has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(has_secure(v) for v in value)
    return False


def _looks_like_ours(namespace: str, name: str) -> bool:
    squashed = re.sub(r"[^a-z0-9]", "", namespace.lower())
    return name in PLAIN_KEYS or name in SECRET_KEYS or NAMESPACE in squashed \
        or _distance(squashed, NAMESPACE) <= 2


def _distance(a: str, b: str) -> int:
    """Levenshtein distance (short strings only)."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def _tab_hint(path: Path) -> str:
    """YAML indents with spaces only: name the lines whose indentation holds a tab."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    tabs = [n for n, line in enumerate(lines, 1) if "\t" in line[:len(line) - len(line.lstrip())]]
    if not tabs:
        return ""
    shown = ", ".join(str(n) for n in tabs[:5]) + (", ..." if len(tabs) > 5 else "")
    return (f"; YAML indents with spaces, never tabs: line(s) {shown} start with a tab "
            "(set your editor to insert spaces)")


def read(path: Path) -> StackFile:
    """Load and check the file's structure; raise ConfigError naming each problem's line."""
    try:
        with path.open(encoding="utf-8") as stream:  # marks then name the file
            loader = _Loader(stream)
            try:
                doc = loader.get_single_data()
            finally:
                loader.dispose()
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise ConfigError([f"{path}: cannot read the stack file ({e}){_tab_hint(path)}"]) from None
    problems = [(line, f"{path}:{line}: {text}") for line, text in loader.problems]
    doc = {} if doc is None else doc
    if not isinstance(doc, dict):
        raise ConfigError([f"{path}: must be a mapping with a `config:` block"])
    top = loader.lines.get(id(doc), {})
    for key in doc:
        if key not in STACK_FILE_KEYS:
            problems.append((top[key], f"{path}:{top[key]}: `{key}` is outside `config:`, so "
                             "pulumi up does not read it; indent it under `config:`"))
    config = doc.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError([f"{path}:{top.get('config', 1)}: `config:` must be a mapping"])
    sf = StackFile(path=path, raw={}, secret_keys=set(), other={})
    at = loader.lines.get(id(config), {})
    for key, value in config.items():
        line = at.get(key, 1)
        parts = str(key).split(":")
        if len(parts) == 3 and parts[1] == "config":  # Pulumi's legacy `ns:config:name`
            parts = [parts[0], parts[2]]
        if len(parts) != 2 or not all(parts):
            problems.append((line, f"{path}:{line}: `{key}` is not a `namespace:name` key, which "
                             "pulumi up refuses; a wpfleet setting here is indented under the "
                             "wrong parent or lacks its `wpfleet:` prefix"))
            continue
        ns, name = parts
        if ns != NAMESPACE:
            if _looks_like_ours(ns, name):
                problems.append((line, f"{path}:{line}: `{key}` is not in the `{NAMESPACE}:` "
                                 f"namespace, so pulumi up ignores it; did you mean "
                                 f"`{NAMESPACE}:{name}`?"))
            else:
                sf.other[f"{ns}:{name}"] = value
                sf.notes.append(f"{path}:{line}: `{key}` belongs to another namespace (a "
                                "provider's or Pulumi's); wpfleet does not read it")
            continue
        if name in sf.raw:
            problems.append((line, f"{path}:{line}: `{key}` repeats `{NAMESPACE}:{name}` "
                             "(Pulumi reads both spellings as one key): keep one"))
            continue
        sf.raw[name] = value
        if has_secure(value):  # `--secret --path` nests secure: values inside an object
            sf.secret_keys.add(name)
        _index(loader, sf.lines, f"{NAMESPACE}:{name}", value, line)
    if problems:
        raise ConfigError([text for _, text in sorted(problems)])
    return sf


def _index(loader: _Loader, lines: dict[str, int], key: str, value: Any, line: int) -> None:
    """Record the line of every nested key, spelled as the validation messages spell it."""
    lines[key] = line
    at = loader.lines.get(id(value), {})
    if isinstance(value, dict) and not is_secure(value):
        for k, v in value.items():
            _index(loader, lines, f"{key}.{k}", v, at.get(k, line))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _index(loader, lines, f"{key}[{i}]", v, at.get(i, line))


def secret_problems(sf: StackFile, stack: StackConfig) -> list[str]:
    """What `up` refuses about secrets, checked on the file (no value is ever decrypted)."""
    problems = [sf.locate(p) for p in missing_secrets(stack, sf.raw)]
    for key in sorted(sf.secret_keys & set(MAP_SECRET_KEYS)):  # secure: beside plaintext values
        for path, line in _plain_leaves(sf.raw[key], f"{NAMESPACE}:{key}", sf.lines):
            problems.append(f"{sf.path}:{line}: {path}: is stored in plaintext beside encrypted "
                            f"values; remove it and set it with `{set_path_hint(path)}`")
    secrets = sf.raw.get(BACKEND_SECRETS_KEY)
    if isinstance(secrets, dict) and not is_secure(secrets):  # names are visible, values not
        for b in stack.backends:
            try:
                backend_secret_values(b, secrets)
            except pulumi.RunError as e:
                problems.append(sf.locate(str(e)))
    return problems


def _plain_leaves(value: Any, key: str, lines: dict[str, int]) -> list[tuple[str, int]]:
    if is_secure(value):
        return []
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _plain_leaves(v, f"{key}.{k}", lines)]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in _plain_leaves(v, f"{key}[{i}]", lines)]
    return [(key, lines.get(key, 1))]
