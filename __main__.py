"""wpfleet: one Ubuntu box -> multi-site WordPress host. Reads the stack config once, composes."""

from __future__ import annotations

import gc

import pulumi

from components import config
from components.apache_balancer import ApacheBalancer, ApacheBalancerArgs
from components.backend_service import BackendService, BackendServiceArgs
from components.backup import Backup, BackupArgs
from components.box import Box, BoxArgs
from components.box_setup import BoxSetup, BoxSetupArgs
from components.certbot_cert import CertbotCert, CertbotCertArgs
from components.images import Images, ImagesArgs
from components.network import Network, NetworkArgs
from components.render.wpcli import WPCLI_IMAGE
from components.wordpress_install import WordPressInstall, WordPressInstallArgs
from components.wordpress_site import WordPressSite, WordPressSiteArgs
from components.wp_tools import WpTools, WpToolsArgs, smtp_password_for

# Thousands of long-lived Output objects make the default GC rescan them over and over
# (measured: ms per site grew with the number of sites); collect young objects less often.
gc.freeze()
gc.set_threshold(100_000, 50, 1000)

stack, secrets = config.load()  # raises ConfigError (shown without traceback) before any resource

box = Box("box", BoxArgs(host=stack.box.host, port=stack.box.port, user=stack.box.user,
                         host_key=stack.box.host_key, private_key=secrets.ssh_private_key))
setup = BoxSetup("box-setup", BoxSetupArgs(stack=stack, box=box,
                                           duckdns_token=secrets.duckdns_token))

refs = [r for s in stack.sites for r in (s.wordpress_image, s.mariadb_image)]
refs += [b.image for b in stack.backends if b.image]
refs += [WPCLI_IMAGE] if stack.sites else []  # WordPress's install/upgrade runs wp-cli
images = Images("images", ImagesArgs(refs=tuple(refs), box=box, after=(setup.preflight,)))

tools = WpTools("wordpress-tools", WpToolsArgs(stack=stack, box=box, after=(setup.preflight,)))
sites: dict[str, WordPressSite] = {}
installs: dict[str, WordPressInstall] = {}
for site in stack.sites:
    network = Network(f"{site.name}-net", NetworkArgs(site=site.name, box=box))
    sites[site.name] = WordPressSite(site.name, WordPressSiteArgs(
        site=site, box=box, network=network,
        wordpress_image_id=images.id_of(site.wordpress_image),
        mariadb_image_id=images.id_of(site.mariadb_image),
        after=(tools.site_files[site.name],),
        smtp_password=smtp_password_for(site, secrets.smtp_passwords)))
    installs[site.name] = WordPressInstall(f"{site.name}-install", WordPressInstallArgs(
        stack=stack, site=site, box=box,
        after=[*sites[site.name].replicas, images.images[WPCLI_IMAGE]],
        admin_password=secrets.admin_passwords.get(site.name)))
    tools.cron(site, sites[site.name].replicas)

for backend in stack.backends:
    if backend.image:
        BackendService(backend.name, BackendServiceArgs(
            backend=backend, box=box, image_id=images.id_of(backend.image),
            secret_env=secrets.backend_secrets, after=[setup.preflight]))

if stack.backup is not None and secrets.restic_password is not None:
    Backup("backup", BackupArgs(stack=stack, box=box, restic_password=secrets.restic_password,
                                backup_env=secrets.backup_env, after=[setup.preflight]))

apache = ApacheBalancer("apache", ApacheBalancerArgs(
    stack=stack, box=box, after=setup.ready,
    host_after={name: [i.command] for name, i in installs.items()}))
certs = {h.name: CertbotCert(f"{h.name}-cert", CertbotCertArgs(
    stack=stack, host=h, box=box, conf=apache.confs[h.name])) for h in stack.tls_hosts}

pulumi.export("dockerHost", box.docker_host)
pulumi.export("sites", {
    name: {"urls": s.urls, "hostPorts": s.host_ports, "containers": s.container_names,
           "certificate": certs[name].live_path if name in certs else None}
    for name, s in sites.items()})
pulumi.export("backends", {
    b.name: {"url": f"{'https' if b.tls else 'http'}://{b.domain}{b.path}",
             "upstream": b.upstream,
             "certificate": certs[b.name].live_path if b.name in certs else None}
    for b in stack.backends})
# `pulumi stack output adminPasswords --show-secrets`; the admin user is sites[].adminUser
pulumi.export("adminPasswords", pulumi.Output.secret(
    {name: i.admin_password for name, i in installs.items()}))
