"""`wpfleet:boxes` validation: every message names the key the user wrote and the value."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.config import ConfigError
from components.config.fleet import missing_secrets, parse
from tests.fleet_configs import fleet_config
from tests.harness import BASE_CONFIG, HOST_KEY


def problems(raw: dict[str, Any], secret_keys: set[str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as e:
        parse(raw, secret_keys)
    return e.value.problems


def test_wpfleet_box_is_one_box_named_default() -> None:
    fleet = parse(copy.deepcopy(BASE_CONFIG))
    assert fleet.legacy and fleet.names == ("default",)
    assert [s.name for s in fleet.box("default").sites] == ["blog", "shop"]


def test_boxes_split_sites_backends_and_settings_per_box() -> None:
    fleet = parse(fleet_config())
    assert not fleet.legacy and fleet.names == ("default", "web2", "web3")
    assert [s.name for s in fleet.box("web3").sites] == ["docs", "cafe"]
    assert [b.name for b in fleet.box("web2").backends] == ["api"]
    assert fleet.box("web3").apache.https_port == 8443 and fleet.box("web2").apache.https_port == 443
    assert fleet.box("web2").duckdns is not None and fleet.box("default").duckdns is None
    assert fleet.box("web2").box.install_docker and fleet.box("default").box.harden_ssh
    assert fleet.box("web2").firewall.allow == ("51820/udp",)


def test_box_and_boxes_together_and_top_level_box_sections() -> None:
    cfg = fleet_config()
    cfg["box"] = {"host": "x.example.org"}
    cfg["firewall"] = {"enabled": True}
    found = problems(cfg)
    assert any(p.startswith("wpfleet:box: cannot be set together with wpfleet:boxes") for p in found)
    assert any(p.startswith("wpfleet:firewall: is set per box") and "wpfleet:boxes.NAME.firewall"
               in p for p in found)


def test_box_names_and_settings() -> None:
    cfg = fleet_config()
    cfg["boxes"]["Web_4"] = {"host": "h.example.org"}
    assert problems(cfg) == ["wpfleet:boxes: 'Web_4' is not a valid box name: use "
                             "[a-z][a-z0-9-]{0,30}, e.g. web2"]
    cfg = fleet_config()
    cfg["boxes"]["web2"].update(port=70000, colour="blue")
    cfg["boxes"]["web2"]["apache"] = {"httpPort": 80, "httpsPort": 80}
    found = problems(cfg)
    assert any(p.startswith("wpfleet:boxes.web2.port: 70000") for p in found), found
    assert any(p.startswith("wpfleet:boxes.web2.colour") for p in found), found
    assert any(p.startswith("wpfleet:boxes.web2.apache.httpsPort: 80") for p in found), found


def test_entries_name_a_known_box_and_need_one_when_there_are_several() -> None:
    cfg = fleet_config()
    cfg["sites"][4]["box"] = "web9"
    del cfg["backends"][0]["box"]
    found = problems(cfg)
    assert found == [
        "wpfleet:sites[4].box: 'web9' names no box in wpfleet:boxes; use one of default, web2, web3",
        "wpfleet:backends[0].box: is required because wpfleet:boxes lists 3 boxes; set it to "
        "one of default, web2, web3"]
    one = {"boxes": {"solo": {"host": "solo.example.org", "hostKey": HOST_KEY}},
           "acme": {"email": "a@example.org"},
           "sites": [{"name": "blog", "domain": "blog.example.org", "port": 8082}]}
    assert [s.name for s in parse(one).box("solo").sites] == ["blog"]  # one box: box optional


def test_two_boxes_cannot_be_one_server() -> None:
    cfg = fleet_config()
    cfg["boxes"]["web3"]["host"] = "box2.example.org"
    assert problems(cfg) == ["wpfleet:boxes.web3.host: 'box2.example.org:2222' is already the "
                             "box web2; two boxes cannot be one server (merge them, or fix the "
                             "host or port)"]
    cfg["boxes"]["web3"]["port"] = 22  # same host, other SSH port: another server (or VM)
    parse(cfg)


def test_ports_are_unique_per_box_and_messages_keep_the_users_index() -> None:
    cfg = fleet_config()
    assert cfg["sites"][3]["port"] == cfg["sites"][5]["port"] == 8082  # other boxes: fine
    parse(cfg)
    cfg["sites"][4]["port"] = cfg["sites"][3]["port"]  # wiki and forum, both on web2
    found = problems(cfg)
    assert len(found) == 2 and found[0].startswith("wpfleet:sites[4].port: 8082") \
        and "wpfleet:sites[3].port" in found[0], found
    cfg = fleet_config()
    cfg["sites"][6]["port"] = 8442  # its replica 1 is web3's Apache httpsPort
    assert problems(cfg)[0].startswith("wpfleet:sites[6].port (replica 1): 8443 overlaps port "
                                       "8443 already used by wpfleet:boxes.web3.apache.httpsPort")


def test_a_domain_or_a_name_lives_on_one_box() -> None:
    cfg = fleet_config()
    cfg["sites"][5]["domain"] = "wiki.example.org"  # docs (web3) takes wiki's (web2) domain
    cfg["sites"][6]["name"] = "blog"  # cafe (web3) renamed like blog (default)
    found = problems(cfg)
    assert "wpfleet:sites[5].domain: 'wiki.example.org' is already served by box web2 " \
           "(wpfleet:sites[3]); a domain lives on one box" in found
    assert any(p.startswith("wpfleet:sites[6].name: 'blog' is already used as a name by "
                            "wpfleet:sites[0].name on box default") for p in found), found


def test_ssh_keys_per_box_or_shared() -> None:
    cfg = fleet_config()
    other = {"duckdnsToken": "t", "backendSecrets": {"node": {"API_KEY": "v"}}}
    assert missing_secrets(parse(cfg), {**other, "sshPrivateKey": "k"}) == []
    assert missing_secrets(parse(cfg), {**other, "sshPrivateKeys": {
        "default": "a", "web2": "b", "web3": "c"}}) == []
    assert missing_secrets(parse(cfg), other | {"sshPrivateKeys": {"secure": "v1:xx"}}) == []
    found = missing_secrets(parse(cfg), {**other, "sshPrivateKeys": {"web2": "b"}})
    assert [p.split(":")[1].split(" ")[0] for p in found] == [
        "sshPrivateKeys.default", "sshPrivateKeys.web3"]
    assert "pulumi config set --secret --path 'wpfleet:sshPrivateKeys.web3' < KEY_FILE" in found[1]
    cfg["sshPrivateKeys"] = {"web9": "x"}
    assert problems(cfg) == ["wpfleet:sshPrivateKeys.web9: names no box in wpfleet:boxes "
                             "(default, web2, web3); remove it (`pulumi config rm --path "
                             "'wpfleet:sshPrivateKeys.web9'`)"]
    assert any(p.startswith("wpfleet:sshPrivateKeys: is stored in plaintext")
               for p in problems({**fleet_config(), "sshPrivateKeys": {"web2": "x"}}, set()))
    legacy = parse(copy.deepcopy(BASE_CONFIG))  # today's message, unchanged
    assert missing_secrets(legacy, {})[0].startswith("wpfleet:sshPrivateKey: is required by "
                                                     "this stack but not set")
    assert missing_secrets(legacy, {"sshPrivateKeys": {"default": "k"}}) == []


def test_admin_passwords_follow_sites_to_their_box() -> None:
    cfg = fleet_config()
    cfg["adminPasswords"] = {"docs": "a-long-enough-password"}
    parse(cfg)
    cfg["adminPasswords"] = {"nosuch": "a-long-enough-password"}
    assert problems(cfg) == ["wpfleet:adminPasswords.nosuch: names no site in wpfleet:sites; "
                             "remove it (`pulumi config rm --path 'wpfleet:adminPasswords.nosuch'`)"]
