"""One WordPress site: generated secrets, volumes, a MariaDB container and N WordPress replicas.

The secrets reach the containers as files (`site-secrets-<site>`, render/wordpress/secrets.py),
mounted read-only; the containers' environment holds only their paths (`<NAME>_FILE`), so
neither `docker inspect` nor the Docker provider's debug log (which Pulumi keeps) shows them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.box import Box
from components.config import SiteConfig
from components.go_duration import seconds
from components.network import Network
from components.render.wordpress import php as wp_php
from components.render.wordpress import secrets as site_secrets
from components.render.wordpress.db import DB_NAME, DB_USER, db_user_command
from components.render.wordpress.secrets import SALT_NAMES

# Salts may use punctuation, but no quote, backslash or $ (safe in env files and PHP alike).
SALT_SPECIAL = "!#%()*+,-./:;<=>?@[]^_{|}~"
DB_STOP_SECONDS = 60  # MariaDB's clean shutdown; stays below systemd's 90 s stop timeout
WP_STOP_SECONDS = 10
WP_WAIT_SECONDS = 300  # first start: copy WordPress into the volume, then pass the health check


def config_extra(site: SiteConfig) -> str:
    """PHP appended to wp-config: canonical URL and the real client address from Apache.

    The scheme follows the request's X-Forwarded-Proto, the way the image decides HTTPS=on: a
    TLS site is served over HTTP until its certificate exists (and stays usable if issuance
    fails), then Apache's port-80 vhost redirects every request to HTTPS. The balancer *sets*
    that header and the containers listen on 127.0.0.1 only, so it cannot be spoofed.
    """
    return (
        "$wpfleet_scheme = (isset($_SERVER['HTTP_X_FORWARDED_PROTO'])\n"
        "  && strpos($_SERVER['HTTP_X_FORWARDED_PROTO'], 'https') !== false) ? 'https' : 'http';\n"
        f"defined('WP_HOME') || define('WP_HOME', $wpfleet_scheme . '://{site.domain}');\n"
        f"defined('WP_SITEURL') || define('WP_SITEURL', $wpfleet_scheme . '://{site.domain}');\n"
        "if (!empty($_SERVER['HTTP_X_FORWARDED_FOR'])) {\n"
        "  $wpfleet_ips = array_map('trim', explode(',', $_SERVER['HTTP_X_FORWARDED_FOR']));\n"
        "  $_SERVER['REMOTE_ADDR'] = end($wpfleet_ips);\n"
        "}\n"
    ) + wp_php.config_php(site)  # DISABLE_WP_CRON and the site's wpConfig constants


def wordpress_env(site: SiteConfig) -> list[str]:
    """The replicas' environment: no secret in it, only the paths of the mounted secret files
    (the DB password, the eight keys/salts, the SMTP password when smtp has a user)."""
    return ["WORDPRESS_DB_HOST=db:3306", f"WORDPRESS_DB_NAME={DB_NAME}",
            f"WORDPRESS_DB_USER={DB_USER}", f"WORDPRESS_CONFIG_EXTRA={config_extra(site)}",
            *site_secrets.wordpress_env(site)]


def split_salts(block: str) -> dict[str, str]:
    """Cut one 512-character random block into the eight 64-character keys/salts."""
    if len(block) != 64 * len(SALT_NAMES):
        raise ValueError(f"salt block must be {64 * len(SALT_NAMES)} characters, got {len(block)}")
    return {k: block[64 * i:64 * (i + 1)] for i, k in enumerate(SALT_NAMES)}


def mariadb_env() -> list[str]:
    """The DB container's environment: the passwords as paths of mounted files."""
    return [f"MARIADB_DATABASE={DB_NAME}", f"MARIADB_USER={DB_USER}", *site_secrets.db_env(),
            "MARIADB_AUTO_UPGRADE=1"]  # a newer pinned tag upgrades the data dir on start


def _secrets_stdin(site: SiteConfig, db_password: pulumi.Output[str],
                   root_password: pulumi.Output[str], salt_block: pulumi.Output[str],
                   smtp_password: pulumi.Output[str] | None) -> pulumi.Output[str]:
    """`site-secrets-<site>`'s stdin (one line per secret file); explicitly secret."""
    parts: list[pulumi.Output[str]] = [db_password, root_password, salt_block]
    if smtp_password is not None:
        parts.append(smtp_password)

    def build(v: list[str]) -> str:
        return site_secrets.stdin_text(site, db_password=v[0], root_password=v[1],
                                       salts=split_salts(v[2]),
                                       smtp_password=v[3] if len(v) > 3 else None)

    text: pulumi.Output[str] = pulumi.Output.all(*parts).apply(build)
    return pulumi.Output.secret(text)  # type: ignore[arg-type]  # SDK stub types it as Never


def labels(site: str, role: str) -> list[docker.ContainerLabelArgs]:
    return [docker.ContainerLabelArgs(label="org.wpfleet.site", value=site),
            docker.ContainerLabelArgs(label="org.wpfleet.role", value=role)]


@dataclass(frozen=True, kw_only=True)
class WordPressSiteArgs:
    site: SiteConfig  # validated site entry
    box: Box  # Docker provider of the box
    network: Network  # this site's own networks
    # the shared RemoteImages of site.wordpress_image and site.mariadb_image: the containers
    # name the configured reference (tag) and wait for these pulls (see images.py)
    images: tuple[pulumi.Resource, ...] = ()
    # the command writing the files the replicas mount (PHP ini, mail plugin): render/wordpress/php.py
    after: tuple[pulumi.Resource, ...] = ()
    smtp_password: pulumi.Output[str] | None = None  # secret; for sites whose smtp has a user


class WordPressSite(pulumi.ComponentResource):
    urls: list[str]
    host_ports: list[int]
    container_names: list[str]

    def __init__(self, name: str, args: WordPressSiteArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("wpfleet:index:WordPressSite", name, None, opts)
        site = args.site
        child = pulumi.ResourceOptions(parent=self)
        docker_child = pulumi.ResourceOptions(parent=self, provider=args.box.provider)

        def password(suffix: str, length: int, special: bool) -> pulumi.Output[str]:
            # a renamed site (sites[].renamedFrom) keeps its passwords: its copied database
            # volume opens with them (docs/operations.md, Renaming a site)
            was = site.renamed_from
            opts = child if was is None else pulumi.ResourceOptions(
                parent=self, aliases=[pulumi.Alias(name=f"{was}-{suffix}")])
            return random.RandomPassword(
                f"{name}-{suffix}", length=length, special=special,
                override_special=SALT_SPECIAL if special else None, opts=opts).result

        db_password = password("db-password", 32, False)
        root_password = password("db-root-password", 32, False)
        # one 512-character secret cut into the eight 64-character keys/salts: one resource
        # instead of eight per site (each registered resource costs the engine time)
        salt_block = password("wp-salts", 64 * len(SALT_NAMES), True)

        # Removing a site (or a stray edit that drops it) must not delete its database and
        # uploads: the volumes leave Pulumi's state but stay on the box (docs/operations.md).
        keep = docker_child.merge(pulumi.ResourceOptions(retain_on_delete=True))
        db_volume = docker.Volume(f"{name}-db-data", name=f"wpfleet-{site.name}-db",
                                  labels=_volume_labels(site.name, "db"), opts=keep)
        html_volume = docker.Volume(f"{name}-html", name=f"wpfleet-{site.name}-html",
                                    labels=_volume_labels(site.name, "html"), opts=keep)
        # Fixed container names and host ports: the old container must go before the new one.
        replace = pulumi.ResourceOptions(delete_before_replace=True)

        # the secret files the containers mount (render/wordpress/secrets.py): written before
        # any container starts; a rotated secret rewrites its file in place (an update)
        self.secrets = args.box.run(
            site_secrets.secrets_command(site), parent=self, depends_on=list(args.after),
            stdin=_secrets_stdin(site, db_password, root_password, salt_block,
                                 args.smtp_password))
        mounts = site_secrets.mounts(site)

        def secret_mount(role: str) -> docker.ContainerVolumeArgs:
            box_dir, path = mounts[role]
            return docker.ContainerVolumeArgs(host_path=box_dir, container_path=path,
                                              read_only=True)

        db_name = f"wpfleet-{site.name}-db"
        # must_run=False: the provider reads a stopped container's ports back as none, so with
        # must_run=True a `docker stop` followed by a refresh would REPLACE the container at the
        # next `up`; box-keeper starts stopped containers instead (render/box/keeper.py)
        self.db = docker.Container(
            f"{name}-db", name=db_name, image=site.mariadb_image, restart="unless-stopped",
            must_run=False, envs=mariadb_env(),
            # only on the internal network: no published port, no egress. No network_mode: with
            # networks_advanced the provider detaches the default bridge before the first start,
            # whereas network_mode=<this network> would attach it without the "db" alias
            # (checked against a real dockerd: tests/integration/test_docker_networks_real.py)
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(
                name=args.network.db_network_name, aliases=["db"])],
            volumes=[docker.ContainerVolumeArgs(volume_name=db_volume.name,
                                                container_path="/var/lib/mysql"),
                     secret_mount("db")],
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=["CMD", "healthcheck.sh", "--connect", "--innodb_initialized"],
                interval=seconds(10), timeout=seconds(5), retries=5, start_period=seconds(30)),
            wait=True, wait_timeout=180, memory=site.db_memory_mb,
            # SIGTERM and time to flush InnoDB, instead of SIGKILL on replace/remove (the
            # provider's default) and Docker's 10 s on `docker stop` or a reboot
            destroy_grace_seconds=DB_STOP_SECONDS, stop_timeout=DB_STOP_SECONDS,
            # = memory: no swap, and a later raise is accepted (-1 where Docker limits no swap)
            memory_swap=args.box.memory_swap(site.db_memory_mb),
            labels=labels(site.name, "db"), opts=docker_child.merge(replace).merge(
                pulumi.ResourceOptions(depends_on=[*args.images, self.secrets])))

        # the user's password inside MariaDB follows the secret (a rotation is a --replace of
        # the password): set before any replica connects (render/wordpress/db.py), after the
        # secret files (a rotation rewrites the replicas' file, then this ALTERs the user)
        self.db_user = args.box.run(
            db_user_command(site), parent=self, depends_on=[self.db, self.secrets],
            stdin=pulumi.Output.secret(db_password.apply(lambda pw: pw + "\n")))

        wp_env = wordpress_env(site)
        self.replicas: list[docker.Container] = []
        for i, port in enumerate(site.ports):
            # replica 0 copies WordPress into the shared empty volume; the others wait for it
            after: list[pulumi.Resource] = [self.db, self.db_user] if i == 0 else [self.replicas[0]]
            after += [*args.after, *args.images]
            self.replicas.append(docker.Container(
                f"{name}-wp-{i}", name=f"wpfleet-{site.name}-wp-{i}",
                image=site.wordpress_image, restart="unless-stopped", must_run=False, envs=wp_env,
                ports=[docker.ContainerPortArgs(internal=80, external=port, ip="127.0.0.1",
                                                protocol="tcp")],
                networks_advanced=[
                    docker.ContainerNetworksAdvancedArgs(name=args.network.web_network_name),
                    docker.ContainerNetworksAdvancedArgs(name=args.network.db_network_name)],
                volumes=[docker.ContainerVolumeArgs(volume_name=html_volume.name,
                                                    container_path="/var/www/html"),
                         secret_mount("wordpress"),
                         *(docker.ContainerVolumeArgs(host_path=box_path, container_path=path,
                                                      read_only=True)
                           for box_path, path in wp_php.site_mounts(site))],
                healthcheck=docker.ContainerHealthcheckArgs(
                    tests=["CMD", "curl", "-fsS", "-o", "/dev/null",
                           "http://127.0.0.1/wp-login.php"],
                    interval=seconds(30), timeout=seconds(10), retries=3,
                    start_period=seconds(60)),
                # healthy = WordPress copied into the volume and answering: replica 0 is
                # waited for before the other replicas start (they would copy too)
                wait=True, wait_timeout=WP_WAIT_SECONDS,
                destroy_grace_seconds=WP_STOP_SECONDS,  # Apache's graceful stop (SIGWINCH)
                memory=site.memory_mb,
                # the digest of the mounted ini/mail plugin: a change re-creates the replica
                labels=[*labels(site.name, "wordpress"), docker.ContainerLabelArgs(
                    label="org.wpfleet.files", value=wp_php.files_digest(site))],
                memory_swap=args.box.memory_swap(site.memory_mb),  # see the DB container
                opts=docker_child.merge(replace).merge(pulumi.ResourceOptions(depends_on=after))))

        scheme = "https" if site.tls else "http"
        self.urls = [f"{scheme}://{d}/" for d in site.domains]
        self.host_ports = list(site.ports)
        self.container_names = [db_name, *(f"wpfleet-{site.name}-wp-{i}"
                                           for i in range(site.replicas))]
        self.register_outputs({"urls": self.urls, "hostPorts": self.host_ports,
                               "containers": self.container_names})


def _volume_labels(site: str, role: str) -> list[docker.VolumeLabelArgs]:
    return [docker.VolumeLabelArgs(label="org.wpfleet.site", value=site),
            docker.VolumeLabelArgs(label="org.wpfleet.role", value=role)]
