"""Issue 20 item 9: no ordinary config change may replace a site's data volumes (under mocks).

In the Docker provider every input of a volume (name, driver, driverOpts, labels) is ForceNew:
any difference replaces the volume, i.e. a new empty database or docroot. Each change below
keeps the site, so each of its volumes must register with the very same URN, parent,
provider, inputs and options as on the base config. The mocks show all of that (the engine's
replace decision is a function of exactly these); the real engine is not needed here.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.harness import BASE_CONFIG, SECRETS, Graph, Rec, run_stack

VOLUME = "docker:index/volume:Volume"
BACKUP_SECRETS = {**SECRETS, "resticPassword": "restic-pw-0123456789",
                  "backupEnv": json.dumps({"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"})}
Change = Callable[[dict[str, Any], dict[str, str]], None]


def blog(cfg: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in cfg["sites"] if s["name"] == "blog")


def set_site(**values: Any) -> Change:
    return lambda cfg, _secrets: blog(cfg).update(copy.deepcopy(values))


def with_backup(cfg: dict[str, Any], secrets: dict[str, str]) -> None:
    cfg["backup"] = {"repository": "s3:s3.amazonaws.com/wpfleet-backups"}
    secrets.update(BACKUP_SECRETS)


def with_smtp(cfg: dict[str, Any], secrets: dict[str, str]) -> None:
    blog(cfg)["smtp"] = {"host": "smtp.example.org", "user": "blog@example.org",
                         "from": "blog@example.org"}
    secrets["smtpPassword"] = "smtp-secret-value"


def add_site(cfg: dict[str, Any], _secrets: dict[str, str]) -> None:
    cfg["sites"].append({"name": "news", "domain": "news.example.org", "port": 8100})


def remove_shop(cfg: dict[str, Any], _secrets: dict[str, str]) -> None:
    cfg["sites"] = [s for s in cfg["sites"] if s["name"] != "shop"]


def to_boxes_default(cfg: dict[str, Any], _secrets: dict[str, str]) -> None:
    cfg["boxes"] = {"default": cfg.pop("box")}


def to_boxes_named(cfg: dict[str, Any], secrets: dict[str, str]) -> None:
    to_boxes_default(cfg, secrets)
    for entry in (*cfg["sites"], *cfg["backends"]):
        entry["box"] = "default"


def second_box(cfg: dict[str, Any], secrets: dict[str, str]) -> None:
    to_boxes_named(cfg, secrets)
    cfg["boxes"]["web2"] = {**cfg["boxes"]["default"], "host": "web2.example.org"}
    cfg["sites"].append({"name": "wiki", "domain": "wiki.example.org", "port": 8082,
                         "box": "web2"})


def box_settings(cfg: dict[str, Any], _secrets: dict[str, str]) -> None:
    cfg["box"].update(hardenSsh=True, installDocker=True, minFreeDiskMb=4096)
    cfg["firewall"] = {"enabled": True, "allow": ["51820/udp"]}
    cfg["apache"] = {"httpPort": 8080, "httpsPort": 8443, "balancerManager": True}


def backends(cfg: dict[str, Any], secrets: dict[str, str]) -> None:
    cfg["backends"] = [{"name": "node", "domain": "node.example.org", "image": "node:22.1.0",
                        "port": 8180, "secretEnv": ["API_KEY"]}]
    secrets["backendSecrets"] = json.dumps({"node": {"API_KEY": "k"}})


CHANGES: dict[str, Change] = {
    "replicas up": set_site(replicas=4),
    "replicas down": set_site(replicas=1),
    "images": set_site(wordpressImage="wordpress:6.8.2-php8.3-apache", mariadbImage="mariadb:11.4.7"),
    "memory": set_site(memoryMb=1024, dbMemoryMb=2048),
    "php": set_site(php={"uploadMaxMb": 256, "memoryLimitMb": 512, "maxExecutionSeconds": 120}),
    "cache": set_site(cache={"ttl": 300, "maxSizeMb": 512}),
    "tls off": set_site(tls=False),
    "aliases": set_site(aliases=["www.blog.example.org", "blog.example.net"]),
    "domain": set_site(domain="blog.example.net", aliases=[]),
    "port": set_site(port=9000),
    "sticky, hsts, title, admin": set_site(sticky=True, hsts=False, title="My blog",
                                           adminUser="editor", adminEmail="ed@example.org"),
    "smtp": with_smtp,
    "wpConfig": set_site(wpConfig={"WP_POST_REVISIONS": 5, "DISALLOW_FILE_EDIT": True}),
    "cronMinutes": set_site(cronMinutes=0),
    "backups on": with_backup,
    "another site": add_site,
    "other site removed": remove_shop,
    "wpfleet:boxes default": to_boxes_default,
    "wpfleet:boxes, box: default named": to_boxes_named,
    "a second box": second_box,
    "box settings": box_settings,
    "backends": backends,
}


def volume_view(g: Graph) -> dict[str, dict[str, Any]]:
    """Everything the engine compares for a volume, by URN."""
    def view(r: Rec) -> dict[str, Any]:
        return {"parent": r.parent_urn, "provider": r.provider, "inputs": r.inputs,
                "secret_inputs": sorted(r.secret_inputs), "protect": r.protect,
                "retain_on_delete": r.retain_on_delete,
                "delete_before_replace": r.delete_before_replace, "options": r.options}
    return {r.urn: view(r) for r in g.of_type(VOLUME)}


@pytest.fixture(scope="module")
def base() -> dict[str, dict[str, Any]]:
    return volume_view(run_stack(BASE_CONFIG))


def test_data_volumes_are_retained_on_delete(base: dict[str, dict[str, Any]]) -> None:
    assert len(base) == 4  # db and html of blog and shop
    for urn, v in base.items():
        assert v["retain_on_delete"], urn
        assert not v["delete_before_replace"], urn
        assert set(v["inputs"]) == {"name", "labels"}, urn  # no driver/driverOpts to drift


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_no_ordinary_change_touches_a_kept_sites_volumes(
        change: str, base: dict[str, dict[str, Any]]) -> None:
    cfg, secrets = copy.deepcopy(BASE_CONFIG), dict(SECRETS)
    CHANGES[change](cfg, secrets)
    after = volume_view(run_stack(cfg, secrets))
    kept = {s["name"] for s in cfg["sites"]} & {"blog", "shop"}
    for urn, before in base.items():
        site = next(lbl["value"] for lbl in before["inputs"]["labels"]
                    if lbl["label"] == "org.wpfleet.site")
        if site not in kept:
            assert urn not in after  # removed: dropped from the state, kept on the box
            continue
        assert urn in after, f"{change}: {urn} would be created anew"
        assert after[urn] == before, f"{change}: {urn} would be replaced or changed"


def test_backups_off_again_leaves_the_volumes_as_with_backups() -> None:
    cfg, secrets = copy.deepcopy(BASE_CONFIG), dict(SECRETS)
    with_backup(cfg, secrets)
    on = volume_view(run_stack(cfg, secrets))
    off = volume_view(run_stack(BASE_CONFIG))
    assert on == off
