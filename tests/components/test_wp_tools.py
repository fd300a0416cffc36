"""WpTools in the resource graph (mocks): commands, their order, the replicas' mounts and env."""

from __future__ import annotations

import copy
import json
from typing import Any

import pulumi
import pytest

from components.config import SiteConfig
from components.wp_tools import pick_smtp_password
from tests.harness import BASE_CONFIG, SECRETS, Graph, run_stack

COMMAND = "command:remote:Command"
SMTP_PW = {"blog": "blog-smtp-pa55word-xyz"}


def config() -> dict[str, Any]:
    c = copy.deepcopy(BASE_CONFIG)
    c["sites"][0].update(php={"uploadMaxMb": 32}, wpConfig={"WP_POST_REVISIONS": 3},
                         smtp={"host": "smtp.example.org", "user": "wp@example.org",
                               "from": "blog@example.org"})
    c["sites"][1]["cronMinutes"] = 0
    return c


@pytest.fixture(scope="module")
def graph() -> Graph:
    return run_stack(config(), secrets={**SECRETS, "smtpPassword": json.dumps(SMTP_PW)})


def test_commands_and_their_order(graph: Graph) -> None:
    names = {r.name for r in graph.of_type(COMMAND)}
    assert {"wp-tools", "wp-site-blog", "wp-site-shop", "wp-cron-blog"} <= names
    assert "wp-cron-shop" not in names  # cronMinutes: 0
    preflight = graph.get("box-preflight").urn
    assert preflight in graph.get("wp-tools").deps and preflight in graph.get("wp-site-blog").deps
    # every replica waits for the files it mounts; the timer waits for the replicas and tools
    for i in (0, 1):
        assert graph.get("wp-site-blog").urn in graph.get(f"blog-wp-{i}").deps
    cron = graph.get("wp-cron-blog").deps
    assert {graph.get("blog-wp-0").urn, graph.get("blog-wp-1").urn,
            graph.get("wp-tools").urn} <= cron


def test_replicas_mount_ini_and_mail_plugin_read_only(graph: Graph) -> None:
    for name, site in (("blog-wp-1", "blog"), ("shop-wp-0", "shop")):
        mounts = [v for v in graph.get(name).inputs["volumes"][1:]
                  if v["containerPath"] != "/run/secrets/wpfleet"]  # test_wordpress_site.py
        assert mounts == [
            {"hostPath": f"/etc/wpfleet/php/{site}.ini",
             "containerPath": "/usr/local/etc/php/conf.d/zz-wpfleet.ini", "readOnly": True},
            {"hostPath": f"/etc/wpfleet/mail/{site}.php",
             "containerPath": "/var/www/html/wp-content/mu-plugins/wpfleet-mail.php",
             "readOnly": True}]


def test_site_files_command_writes_the_rendered_ini(graph: Graph) -> None:
    create = graph.get("wp-site-blog").inputs["create"]
    assert "upload_max_filesize = 32M" in create and "smtp.example.org" in create
    assert "-gt 41943040" in graph.get("apache-conf-blog").inputs["create"]


def test_smtp_password_reaches_only_its_site_as_a_secret(graph: Graph) -> None:
    """As a file (its path in the replicas' env), written from the secrets command's stdin."""
    blog = graph.get("blog-wp-0")
    assert ("WPFLEET_SMTP_PASSWORD_FILE=/run/secrets/wpfleet/WPFLEET_SMTP_PASSWORD"
            in blog.inputs["envs"])
    secrets = graph.get("site-secrets-blog")
    assert "stdin" in secrets.secret_inputs
    assert "wordpress/WPFLEET_SMTP_PASSWORD=blog-smtp-pa55word-xyz\n" in secrets.inputs["stdin"]
    assert "[wordpress/WPFLEET_SMTP_PASSWORD]=1" in secrets.inputs["create"]
    assert not any(e.startswith("WPFLEET_") for e in graph.get("shop-wp-0").inputs["envs"])
    assert "WPFLEET_SMTP" not in graph.get("site-secrets-shop").inputs["stdin"]
    for container in ("blog-wp-0", "blog-wp-1", "blog-db"):
        assert SMTP_PW["blog"] not in json.dumps(graph.get(container).inputs)
    assert SMTP_PW["blog"] not in graph.plain_text()
    extra = next(e for e in blog.inputs["envs"] if e.startswith("WORDPRESS_CONFIG_EXTRA="))
    assert "define('DISABLE_WP_CRON', true);" in extra
    assert "define('WP_POST_REVISIONS', 3);" in extra
    shop = graph.get("shop-wp-0").inputs["envs"]
    assert not any("DISABLE_WP_CRON" in e for e in shop)  # cronMinutes: 0 keeps WP's own


def test_a_site_missing_from_the_password_map_fails_naming_the_key() -> None:
    site = SiteConfig(name="news", domain="news.example.org", port=9000)
    with pytest.raises(pulumi.RunError, match=r"wpfleet:smtpPassword\.news: missing") as e:
        pick_smtp_password(site, json.dumps({"blog": "secret-value"}))
    assert "secret-value" not in str(e.value)
    assert pick_smtp_password(site, "one-for-all") == "one-for-all"
    assert pick_smtp_password(site, {"news": "n"}) == "n"


def test_no_sites_no_tools() -> None:
    c = copy.deepcopy(BASE_CONFIG)
    c["sites"] = []
    names = {r.name for r in run_stack(c).of_type(COMMAND)}
    assert not any(n.startswith("wp-") for n in names)


def test_a_php_or_mail_change_recreates_only_that_sites_replicas(graph: Graph) -> None:
    def digest(g: Graph, name: str) -> str:
        return next(x["value"] for x in g.get(name).inputs["labels"]
                    if x["label"] == "org.wpfleet.files")

    changed = config()
    changed["sites"][0]["php"] = {"uploadMaxMb": 33}
    after = run_stack(changed, secrets={**SECRETS, "smtpPassword": json.dumps(SMTP_PW)})
    # labels force a new container (the provider cannot update them): PHP re-reads its ini
    assert digest(after, "blog-wp-0") != digest(graph, "blog-wp-0")
    assert digest(after, "blog-wp-1") == digest(after, "blog-wp-0")
    assert digest(after, "shop-wp-0") == digest(graph, "shop-wp-0")
    assert after.get("shop-wp-0").inputs == graph.get("shop-wp-0").inputs
