"""Backup under mocks: its place in the graph, per-site isolation, secrets kept secret."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from components.backup import stdin_text
from components.config import ConfigError, SiteConfig, parse
from components.render import as_root, owned
from components.render.backup.restic import install
from components.render.backup.restic import site as site_command
from tests.harness import BASE_CONFIG, SECRETS, Graph, Rec, run_stack

REMOTE = "command:remote:Command"
PASSWORD = "restic-pw-never-in-plaintext-7d1"
ENV = {"AWS_ACCESS_KEY_ID": "AKIA-never-plain", "AWS_SECRET_ACCESS_KEY": "s3-never-plain"}
BACKUP_SECRETS = {**SECRETS, "resticPassword": PASSWORD, "backupEnv": json.dumps(ENV)}


def with_backup(**backup: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["backup"] = {"repository": "s3:s3.amazonaws.com/wpfleet-backups", **backup}
    return cfg


@pytest.fixture(scope="module")
def graph() -> Graph:
    return run_stack(with_backup(), BACKUP_SECRETS)


def backup_recs(g: Graph) -> dict[str, Rec]:
    return {r.name: r for r in g.resources if r.name.startswith("backup")}


def test_no_backup_config_means_no_backup_resources() -> None:
    g = run_stack(BASE_CONFIG)
    assert backup_recs(g) == {}
    assert not g.of_type("wpfleet:index:Backup")


def test_one_install_and_one_entry_per_site_under_the_backup_component(graph: Graph) -> None:
    comp = graph.get("backup", "wpfleet:index:Backup")
    recs = backup_recs(graph)
    assert sorted(recs) == ["backup", "backup-install", "backup-site-blog", "backup-site-shop"]
    inst = graph.get("backup-install", REMOTE)
    assert inst.parent_urn == comp.urn
    backup = parse(with_backup()).backup
    assert backup is not None
    assert inst.inputs["create"] == as_root(owned(install(backup), "backup-install").create, sudo=True)
    # the install waits for the box preflight; each site entry waits for the install
    assert graph.get("box-preflight", REMOTE).urn in inst.deps
    for name in ("blog", "shop"):
        rec = graph.get(f"backup-site-{name}", REMOTE)
        assert rec.parent_urn == comp.urn
        assert rec.deps == {inst.urn}
        assert f'put "$CONF_DIR/sites/"{name} 0644' in rec.inputs["create"]


def test_password_and_env_reach_the_box_only_on_stdin_as_a_secret(graph: Graph) -> None:
    inst = graph.get("backup-install", REMOTE)
    assert "stdin" in inst.secret_inputs
    assert inst.inputs["stdin"] == (f"{PASSWORD}\nAWS_ACCESS_KEY_ID=AKIA-never-plain\n"
                                    "AWS_SECRET_ACCESS_KEY=s3-never-plain\n")
    text = graph.plain_text()
    for secret in (PASSWORD, *ENV.values()):
        assert secret not in text
    for r in graph.resources:  # not in any script either
        for key in ("create", "update", "delete"):
            assert PASSWORD not in str(r.inputs.get(key, ""))


def _inputs(g: Graph) -> dict[tuple[str, str], Any]:
    return {(r.type, r.name): (r.inputs, r.parent_urn, sorted(r.deps)) for r in g.resources}


def test_adding_or_removing_a_site_changes_only_its_own_backup_entry(graph: Graph) -> None:
    cfg = with_backup()
    cfg["sites"].append({"name": "news", "domain": "news.example.org", "port": 8100,
                         "tls": False})
    bigger = run_stack(cfg, BACKUP_SECRETS)
    before, after = _inputs(graph), _inputs(bigger)
    added = set(after) - set(before)
    assert (REMOTE, "backup-site-news") in added
    assert not any(n.startswith("backup") for _, n in added - {(REMOTE, "backup-site-news")})
    for key in before:  # every existing resource, backup ones included, is identical
        if key[1] == "box-preflight":  # re-checks the published ports (tests/components/test_stack.py)
            continue
        assert after[key] == before[key], key
    # removing it again: exactly its resources go, the others are unchanged
    assert _inputs(run_stack(with_backup(), BACKUP_SECRETS)) == before


def test_retention_change_touches_only_the_install_command(graph: Graph) -> None:
    other = run_stack(with_backup(keepDaily=14), BACKUP_SECRETS)
    before, after = _inputs(graph), _inputs(other)
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {(REMOTE, "backup-install")}
    assert "--keep-daily 14" in other.get("backup-install", REMOTE).inputs["create"]


def test_missing_or_plaintext_restic_password_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match=r"wpfleet:resticPassword: is required"):
        run_stack(with_backup(), SECRETS)
    cfg = with_backup()
    cfg["resticPassword"] = "plain"
    with pytest.raises(ConfigError, match=r"wpfleet:resticPassword: is stored in plaintext"):
        run_stack(cfg, SECRETS)
    # a repository URL held only in backupEnv needs backupEnv
    cfg = with_backup()
    del cfg["backup"]["repository"]
    with pytest.raises(ConfigError, match=r"wpfleet:backupEnv: is required"):
        run_stack(cfg, {**SECRETS, "resticPassword": PASSWORD})


def test_stdin_text_errors_name_the_key_never_the_value() -> None:
    secret = "AKIA-multi\nline"
    with pytest.raises(Exception) as e:
        stdin_text(PASSWORD, {"AWS_ACCESS_KEY_ID": secret})
    assert "wpfleet:backupEnv.AWS_ACCESS_KEY_ID" in str(e.value) and "AKIA" not in str(e.value)
    with pytest.raises(Exception, match="not an environment variable name"):
        stdin_text(PASSWORD, {"BAD NAME": "x"})
    with pytest.raises(Exception, match="wpfleet:resticPassword"):
        stdin_text("  ", None)
    assert stdin_text(" pw \n", None) == "pw\n"


def test_site_command_names_only_its_site() -> None:
    spec = site_command(SiteConfig(name="blog", domain="blog.example.org", port=8082))
    assert spec.name == "backup-site-blog" and spec.stdin_secret is None
    assert "shop" not in spec.create
