"""`wpfleet:images`: one line upgrades every site (issue 22 item 9)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.config import MARIADB_IMAGE, WORDPRESS_IMAGE, ConfigError, parse
from components.config import fleet as config_fleet
from tests.fleet_configs import fleet_config

RAW: dict[str, Any] = {
    "box": {"host": "local"}, "acme": {"email": "a@example.org"},
    "sites": [{"name": "a", "domain": "a.example.org", "port": 8082},
              {"name": "b", "domain": "b.example.org", "port": 8092,
               "wordpressImage": "wordpress:6.7.2-php8.3-apache"}]}


def test_without_images_the_sites_get_the_code_defaults() -> None:
    a, b = parse(copy.deepcopy(RAW)).sites
    assert (a.wordpress_image, a.mariadb_image) == (WORDPRESS_IMAGE, MARIADB_IMAGE)
    assert b.wordpress_image == "wordpress:6.7.2-php8.3-apache"


def test_stack_wide_images_set_every_site_that_has_no_own_image() -> None:
    raw = copy.deepcopy(RAW) | {"images": {"wordpress": "wordpress:6.9.0-php8.4-apache",
                                           "mariadb": "mariadb:11.8.3"}}
    a, b = parse(raw).sites
    assert (a.wordpress_image, a.mariadb_image) == ("wordpress:6.9.0-php8.4-apache", "mariadb:11.8.3")
    assert (b.wordpress_image, b.mariadb_image) == ("wordpress:6.7.2-php8.3-apache", "mariadb:11.8.3")


def test_images_apply_to_every_box_of_a_fleet() -> None:
    raw = fleet_config() | {"images": {"wordpress": "wordpress:6.9.0-php8.4-apache"}}
    fleet = config_fleet.parse(raw)
    assert {s.wordpress_image for s in fleet.sites} == {"wordpress:6.9.0-php8.4-apache"}


@pytest.mark.parametrize(("images", "problem"), [
    ({"wordpress": "wordpress:latest"}, "wpfleet:images.wordpress: 'wordpress:latest' uses the moving tag"),
    ({"mariadb": "mariadb"}, "wpfleet:images.mariadb: 'mariadb' must be a pinned image reference"),
    ({"php": "php:8.3"}, "wpfleet:images.php: 'php:8.3' is not a known setting"),
    ({"wordpress": 6}, "wpfleet:images.wordpress: 6 must be a string")])
def test_bad_images_name_the_key_and_value(images: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse(copy.deepcopy(RAW) | {"images": images})
    assert len(e.value.problems) == 1 and e.value.problems[0].startswith(problem), e.value.problems
