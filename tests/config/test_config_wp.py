"""Config rules for php, cronMinutes, smtp, wpConfig and the smtpPassword secret."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.config import ConfigError, PhpConfig, SmtpConfig, parse
from tests.harness import BASE_CONFIG, run_stack


def site(**extra: Any) -> dict[str, Any]:
    return {"box": {"host": "local"}, "acme": {"email": "a@example.org"}, "sites": [
        {"name": "blog", "domain": "blog.example.org", "port": 8082, "tls": False, **extra}]}


def problems(**extra: Any) -> list[str]:
    with pytest.raises(ConfigError) as e:
        parse(site(**extra))
    return e.value.problems


def test_defaults_raise_php_limits_and_run_cron_from_the_box() -> None:
    s = parse(site()).sites[0]
    assert s.php == PhpConfig(upload_max_mb=64, memory_limit_mb=256, max_execution_seconds=60)
    assert s.cron_minutes == 5 and s.smtp is None and s.wp_config == ()
    # the default memory_limit never exceeds a small replica's memory
    assert parse(site(memoryMb=128)).sites[0].php.memory_limit_mb == 128


def test_values_are_read() -> None:
    s = parse(site(php={"uploadMaxMb": 200, "memoryLimitMb": 384, "maxExecutionSeconds": 120},
                   cronMinutes=1, wpConfig={"WP_POST_REVISIONS": 5, "X": "a'b", "F": 1.5,
                                            "DISALLOW_FILE_EDIT": True},
                   smtp={"host": "smtp.example.org", "port": 465, "user": "wp@example.org",
                         "from": "wordpress@example.org"})).sites[0]
    assert s.php == PhpConfig(upload_max_mb=200, memory_limit_mb=384, max_execution_seconds=120)
    assert s.cron_minutes == 1
    assert s.wp_config == (("WP_POST_REVISIONS", 5), ("X", "a'b"), ("F", 1.5),
                           ("DISALLOW_FILE_EDIT", True))
    assert s.smtp == SmtpConfig(host="smtp.example.org", port=465, user="wp@example.org",
                                from_address="wordpress@example.org", tls=True)


@pytest.mark.parametrize(("extra", "expected"), [
    ({"php": {"uploadMaxMb": 0}}, "wpfleet:sites[0].php.uploadMaxMb: 0 must be between 1 and 4096"),
    ({"php": {"uploadMaxMb": "64M"}}, "wpfleet:sites[0].php.uploadMaxMb: '64M' must be a whole number"),
    ({"php": {"memoryLimitMb": 1024}},
     "wpfleet:sites[0].php.memoryLimitMb: 1024 is above the replica's memoryMb (512)"),
    ({"php": {"memoryLimitMb": 16}}, "wpfleet:sites[0].php.memoryLimitMb: 16 must be between 32"),
    ({"php": {"maxExecutionSeconds": 301}},
     "wpfleet:sites[0].php.maxExecutionSeconds: 301 must be between 1 and 300"),
    ({"php": {"postMaxMb": 3}}, "wpfleet:sites[0].php.postMaxMb: 3 is not a known setting"),
    ({"php": "big"}, "wpfleet:sites[0].php: 'big' must be a mapping"),
    ({"cronMinutes": 60}, "wpfleet:sites[0].cronMinutes: 60 must be between 1 and 59"),
    ({"cronMinutes": -1}, "wpfleet:sites[0].cronMinutes: -1 must be between 1 and 59"),
    ({"smtp": {"host": "smtp example", "from": "a@example.org"}},
     "wpfleet:sites[0].smtp.host: 'smtp example' must be a hostname or IP address"),
    ({"smtp": {"host": "smtp.example.org", "from": "nobody"}},
     "wpfleet:sites[0].smtp.from: 'nobody' must be an e-mail address"),
    ({"smtp": {"host": "smtp.example.org"}}, "wpfleet:sites[0].smtp.from: is required"),
    ({"smtp": {"host": "smtp.example.org", "from": "a@example.org", "port": 0}},
     "wpfleet:sites[0].smtp.port: 0 "),
    ({"smtp": {"host": "smtp.example.org", "from": "a@example.org", "user": "a b;c"}},
     "wpfleet:sites[0].smtp.user: 'a b;c' must be an SMTP user name"),
    ({"smtp": {"host": "smtp.example.org", "from": "a@example.org", "password": "x"}},
     "wpfleet:sites[0].smtp.password: 'x' is not a known setting"),
    ({"smtp": {"host": "smtp.example.org", "from": "a@example.org", "tls": "yes"}},
     "wpfleet:sites[0].smtp.tls: 'yes' must be a boolean"),
    ({"smtp": "smtp.example.org"}, "wpfleet:sites[0].smtp: 'smtp.example.org' must be a mapping"),
    ({"wpConfig": {"wp_debug_log": True}},
     "wpfleet:sites[0].wpConfig.wp_debug_log: 'wp_debug_log' is not a constant name"),
    ({"wpConfig": {"A');system('id": 1}}, "is not a constant name"),
    ({"wpConfig": {"DB_PASSWORD": "x"}},
     "wpfleet:sites[0].wpConfig.DB_PASSWORD: 'DB_PASSWORD' is set by wpfleet or the WordPress"),
    ({"wpConfig": {"DISABLE_WP_CRON": True}}, "wpConfig.DISABLE_WP_CRON: 'DISABLE_WP_CRON' is set"),
    ({"wpConfig": {"WPFLEET_X": 1}}, "wpConfig.WPFLEET_X: 'WPFLEET_X' is set by wpfleet"),
    ({"wpConfig": {"WP_X": [1, 2]}}, "wpfleet:sites[0].wpConfig.WP_X: [1, 2] must be a single value"),
    ({"wpConfig": {"WP_X": {"a": 1}}}, "wpConfig.WP_X: {'a': 1} must be a single value"),
    ({"wpConfig": {"WP_X": "a\nb"}}, "wpfleet:sites[0].wpConfig.WP_X: 'a\\nb' must be one line"),
    ({"wpConfig": {"WP_X": float("inf")}}, "wpfleet:sites[0].wpConfig.WP_X: inf must be a finite"),
    ({"wpConfig": ["WP_X"]}, "wpfleet:sites[0].wpConfig: ['WP_X'] must be a mapping"),
])
def test_each_mistake_names_key_and_value(extra: dict[str, Any], expected: str) -> None:
    found = problems(**extra)
    assert any(expected in p for p in found), found


def test_smtp_password_is_a_secret_key() -> None:
    raw = {**site(smtp={"host": "smtp.example.org", "user": "u", "from": "a@example.org"}),
           "smtpPassword": "plain"}
    with pytest.raises(ConfigError, match=r"wpfleet:smtpPassword: is stored in plaintext"):
        parse(raw, secret_keys=set())
    parse(raw, secret_keys={"smtpPassword"})  # as `pulumi config set --secret` stores it


def test_smtp_user_without_password_is_refused_before_any_resource() -> None:
    config = copy.deepcopy(BASE_CONFIG)
    config["sites"][0]["smtp"] = {"host": "smtp.example.org", "user": "u", "from": "a@example.org"}
    with pytest.raises(ConfigError, match=r"wpfleet:smtpPassword: is required by this stack"):
        run_stack(config)
    # without a user (a relay that needs no login) no password is asked for
    config["sites"][0]["smtp"].pop("user")
    run_stack(config)
