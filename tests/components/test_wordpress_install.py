"""WordPressInstall in the whole graph (mocks) and its config keys (issue 8, items 11 and 13)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from components.config import ConfigError, parse
from components.render import as_root
from components.render.wordpress.cli import WPCLI_IMAGE
from components.render.wordpress.install import install_command
from tests.harness import BASE_CONFIG, Graph, run_stack

CONFIGURED = "configured-admin-pw-for-blog"
SECRETS = {"sshPrivateKey": "-----BEGIN KEY-----\nk\n-----END KEY-----",
           "adminPasswords": json.dumps({"blog": CONFIGURED})}
CMD = "command:remote:Command"
PASSWORD_TYPE = "random:index/randomPassword:RandomPassword"


@pytest.fixture(scope="module")
def graph() -> Graph:
    return run_stack(BASE_CONFIG, secrets=SECRETS)


def test_install_runs_after_healthy_replicas_and_the_cli_image(graph: Graph) -> None:
    cmd = graph.get("wordpress-blog", CMD)
    for name in ("blog-wp-0", "blog-wp-1"):
        replica = graph.get(name, "docker:index/container:Container")
        assert replica.urn in cmd.deps and replica.inputs["wait"] is True
    cli = next(r for r in graph.of_type("docker:index/remoteImage:RemoteImage")
               if r.inputs["name"] == WPCLI_IMAGE)
    assert cli.urn in cmd.deps
    assert cmd.inputs["addPreviousOutputInEnv"] is False
    assert graph.by_urn(cmd.parent_urn).type == "wpfleet:index:WordPressInstall"


def test_installer_is_closed_before_apache_serves_the_site(graph: Graph) -> None:
    assert graph.get("wordpress-blog", CMD).urn in graph.get("apache-conf-blog", CMD).deps
    assert graph.get("wordpress-shop", CMD).urn in graph.get("apache-conf-shop", CMD).deps
    assert graph.get("wordpress-blog", CMD).urn not in graph.get("apache-conf-shop", CMD).deps


def test_password_configured_or_generated_travels_only_as_secret_stdin(graph: Graph) -> None:
    blog, shop = graph.get("wordpress-blog", CMD), graph.get("wordpress-shop", CMD)
    assert "stdin" in blog.secret_inputs and "stdin" in shop.secret_inputs
    assert blog.inputs["stdin"] == CONFIGURED + "\n"
    generated = graph.get("shop-install-admin-password", PASSWORD_TYPE)
    assert shop.inputs["stdin"] == generated.outputs["result"] + "\n"
    assert generated.inputs["length"] >= 20
    assert not [r for r in graph.of_type(PASSWORD_TYPE) if r.name == "blog-install-admin-password"]
    text = graph.plain_text()
    assert CONFIGURED not in text and generated.outputs["result"] not in text
    # the secret stack output: `pulumi stack output adminPasswords --show-secrets`
    assert graph.outputs["adminPasswords"] == (
        "secret", {"blog": CONFIGURED, "shop": generated.outputs["result"]})
    # and who logs in with it: `pulumi stack output adminUsers` (not a secret)
    assert graph.outputs["adminUsers"] == {"blog": "wpfleet", "shop": "wpfleet"}


def test_admin_users_output_names_each_site_s_configured_login() -> None:
    config = copy.deepcopy(BASE_CONFIG)
    config["sites"][0]["adminUser"] = "editor-in-chief"
    assert run_stack(config).outputs["adminUsers"] == {"blog": "editor-in-chief", "shop": "wpfleet"}


def test_the_command_is_the_rendered_script(graph: Graph) -> None:
    stack = parse(copy.deepcopy(BASE_CONFIG))
    for site in stack.sites:
        spec = install_command(stack, site)
        inputs = graph.get(spec.name, CMD).inputs
        assert inputs["create"] == inputs["update"] == as_root(spec.create, sudo=True)


def test_new_wordpress_image_reruns_the_upgrade_in_place() -> None:
    before = run_stack(BASE_CONFIG, secrets=SECRETS)
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["sites"][0]["wordpressImage"] = "wordpress:6.9.0-php8.3-apache"
    after = run_stack(cfg, secrets=SECRETS)
    old, new = before.get("wordpress-blog", CMD), after.get("wordpress-blog", CMD)
    # a changed `update` script is an in-place update (no replace: no `triggers`)
    assert old.inputs["update"] != new.inputs["update"]
    assert "wordpress:6.9.0-php8.3-apache" in new.inputs["update"]
    assert "triggers" not in new.inputs
    assert before.get("wordpress-shop", CMD).inputs == after.get("wordpress-shop", CMD).inputs
    # it runs after the replicas were replaced with the new image
    assert after.get("blog-wp-0").urn in new.deps


def site(**extra: Any) -> dict[str, Any]:
    return {"box": {"host": "local"}, "acme": {"email": "ops@example.org"},
            "sites": [{"name": "blog", "domain": "blog.example.org", "port": 8082, **extra}]}


def test_defaults_title_domain_user_wpfleet_email_from_acme() -> None:
    stack = parse(site(tls=False))
    script = install_command(stack, stack.sites[0]).create
    assert "--url=http://blog.example.org --title=blog.example.org --admin_user=wpfleet " \
           "--admin_email=ops@example.org --skip-email --prompt=admin_password" in script
    custom = parse({**site(title="News", adminUser="eddie", adminEmail="ed@example.org"),
                    "apache": {"httpsPort": 8443}})
    script = install_command(custom, custom.sites[0]).create
    assert "--url=https://blog.example.org:8443 --title=News --admin_user=eddie " \
           "--admin_email=ed@example.org" in script


@pytest.mark.parametrize(("raw", "message"), [
    (site(adminUser="admin"), "wpfleet:sites[0].adminUser: 'admin' is among the first logins"),
    (site(adminUser="a b"), "wpfleet:sites[0].adminUser: 'a b' must be 3 to 60"),
    (site(adminEmail="nope"), "wpfleet:sites[0].adminEmail: 'nope' is not a valid e-mail"),
    (site(title="two\nlines"), "wpfleet:sites[0].title: 'two\\nlines' must be one line"),
    ({**site(tls=False), "acme": {}}, "wpfleet:sites[0].adminEmail: is required because "
                                      "wpfleet:acme.email is not set"),
    ({**site(), "adminPasswords": {"blgo": "long-enough-password"}},
     "wpfleet:adminPasswords.blgo: names no site"),
    ({**site(), "adminPasswords": {"blog": "short-pw"}},
     "wpfleet:adminPasswords.blog: must be one line of at least 12 characters (value not shown)"),
])
def test_bad_install_settings_are_named(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(raw)
    assert message in str(err.value)
    assert "short-pw" not in str(err.value)


def test_encrypted_passwords_in_a_stack_file_are_accepted() -> None:
    parse({**site(), "adminPasswords": {"blog": {"secure": "v1:abc"}}}, {"adminPasswords"})
    parse({**site(), "adminPasswords": {"secure": "v1:abc"}}, {"adminPasswords"})
    with pytest.raises(ConfigError, match="adminPasswords: is stored in plaintext"):
        parse({**site(), "adminPasswords": {"blog": "long-enough-password"}}, set())
