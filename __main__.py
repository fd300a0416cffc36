"""wpfleet: Ubuntu boxes -> multi-site WordPress hosts. Reads the stack config once, composes."""

from __future__ import annotations

import gc

import pulumi

from components.apache_balancer import ApacheBalancer, ApacheBalancerArgs
from components.backend_service import BackendService, BackendServiceArgs
from components.backup import Backup, BackupArgs
from components.box import Box, BoxArgs
from components.box_setup import BoxSetup, BoxSetupArgs
from components.certbot_cert import CertbotCert, CertbotCertArgs
from components.config import DEFAULT_BOX, StackConfig, name_prefix
from components.config import fleet as config_fleet
from components.images import Images, ImagesArgs
from components.network import Network, NetworkArgs
from components.render.wordpress.cli import WPCLI_IMAGE
from components.wordpress_install import WordPressInstall, WordPressInstallArgs
from components.wordpress_site import WordPressSite, WordPressSiteArgs
from components.wp_tools import WpTools, WpToolsArgs, smtp_password_for

# Thousands of long-lived Output objects make the default GC rescan them over and over
# (measured: ms per site grew with the number of sites); collect young objects less often.
gc.freeze()
gc.set_threshold(100_000, 50, 1000)

fleet, secrets = config_fleet.load()  # raises ConfigError (shown without traceback) first


def deploy_box(box_name: str, stack: StackConfig, ssh_key: pulumi.Output[str] | None,
               restic_password: pulumi.Output[str] | None) -> dict:
    """One box: its connection, basics, images, sites, backends, Apache and certificates.

    On a box other than `default`, the box-wide components, every command (Box.run) and every
    image pull (Images) get the box's name as a prefix, so two boxes never register the same
    resource; site and backend components keep their names (unique across the stack).
    """
    pre = name_prefix(box_name)
    was = stack.box.renamed_from  # boxes.NAME.renamedFrom: every prefixed name gets an alias
    box = Box(f"{pre}box", BoxArgs(host=stack.box.host, port=stack.box.port, user=stack.box.user,
                                   host_key=stack.box.host_key, private_key=ssh_key,
                                   name_prefix=pre,
                                   renamed_from_prefix=None if was is None else name_prefix(was)))
    setup = BoxSetup(f"{pre}box-setup", BoxSetupArgs(stack=stack, box=box,
                                                     duckdns_token=secrets.shared.duckdns_token),
                     opts=box.renamed(f"{pre}box-setup"))

    refs = [r for s in stack.sites for r in (s.wordpress_image, s.mariadb_image)]
    refs += [b.image for b in stack.backends if b.image]
    refs += [WPCLI_IMAGE] if stack.sites else []  # WordPress's install/upgrade runs wp-cli
    images = Images(f"{pre}images", ImagesArgs(refs=tuple(refs), box=box,
                                               after=(setup.preflight,)),
                    opts=box.renamed(f"{pre}images"))

    tools = WpTools(f"{pre}wordpress-tools", WpToolsArgs(stack=stack, box=box,
                                                        after=(setup.preflight,)),
                    opts=box.renamed(f"{pre}wordpress-tools"))
    sites: dict[str, WordPressSite] = {}
    installs: dict[str, WordPressInstall] = {}
    for site in stack.sites:
        network = Network(f"{site.name}-net", NetworkArgs(site=site.name, box=box))
        sites[site.name] = WordPressSite(site.name, WordPressSiteArgs(
            site=site, box=box, network=network,
            images=(images.images[site.wordpress_image], images.images[site.mariadb_image]),
            after=(tools.site_files[site.name],),
            smtp_password=smtp_password_for(site, secrets.shared.smtp_passwords)))
        installs[site.name] = WordPressInstall(f"{site.name}-install", WordPressInstallArgs(
            stack=stack, site=site, box=box,
            after=[*sites[site.name].replicas, images.images[WPCLI_IMAGE]],
            admin_password=secrets.shared.admin_passwords.get(site.name)))
        tools.cron(site, sites[site.name].replicas)

    for backend in stack.backends:
        if backend.image:
            BackendService(backend.name, BackendServiceArgs(
                backend=backend, box=box, image=images.images[backend.image],
                secret_env=secrets.shared.backend_secrets, after=[setup.preflight]))

    backup = None  # the box's own backup settings and password (wpfleet:boxes.NAME.backup)
    if stack.backup is not None and restic_password is not None:
        backup = Backup(f"{pre}backup", BackupArgs(
            stack=stack, box=box, restic_password=restic_password,
            backup_env=secrets.shared.backup_env, after=[setup.preflight]),
            opts=box.renamed(f"{pre}backup"))

    apache = ApacheBalancer(f"{pre}apache", ApacheBalancerArgs(
        stack=stack, box=box, after=setup.ready,
        host_after={name: [i.command] for name, i in installs.items()}),
        opts=box.renamed(f"{pre}apache"))
    certs = {h.name: CertbotCert(f"{h.name}-cert", CertbotCertArgs(
        stack=stack, host=h, box=box, conf=apache.confs[h.name])) for h in stack.tls_hosts}

    return {
        "dockerHost": box.docker_host,
        "images": images.ids(),  # reference -> the image ID it had when pulled
        "sites": {name: {"urls": s.urls, "hostPorts": s.host_ports,
                         "containers": s.container_names,
                         "certificate": certs[name].live_path if name in certs else None}
                  for name, s in sites.items()},
        # a backend under a site's path is served with the site's certificate
        "backends": {b.name: {"url": f"{'https' if b.tls else 'http'}://{b.domain}{b.path}",
                              "upstream": b.upstream,
                              "certificate": certs[cert].live_path
                              if (cert := b.site or b.name) in certs else None}
                     for b in stack.backends},
        "adminPasswords": {name: i.admin_password for name, i in installs.items()},
        "adminUsers": {s.name: s.admin_user for s in stack.sites},
        "backupSshKey": backup.public_key if backup is not None else None,
    }


deployed = {name: deploy_box(name, stack, secrets.ssh_keys[name], secrets.restic_passwords.get(name))
            for name, stack in fleet.boxes}
if fleet.legacy:  # a wpfleet:box stack: today's outputs
    only = deployed[DEFAULT_BOX]
    pulumi.export("dockerHost", only["dockerHost"])
    pulumi.export("sites", only["sites"])
    pulumi.export("backends", only["backends"])
    pulumi.export("images", only["images"])
else:  # grouped by box: `pulumi stack output boxes`
    pulumi.export("boxes", {name: {k: v for k, v in d.items()
                                   if k not in ("adminPasswords", "adminUsers", "backupSshKey")}
                            for name, d in deployed.items()})
# each site's first administrator: `pulumi stack output adminUsers` (its login, sites[].adminUser)
# and `pulumi stack output adminPasswords --show-secrets`
pulumi.export("adminUsers", {name: user for d in deployed.values()
                             for name, user in d["adminUsers"].items()})
# the public key each box generated for its SFTP backup target, to authorise there
# (docs/backups.md): `pulumi stack output backupSshKeys`; only when a box uses backup.sftpHostKey
ssh_keys = {name: d["backupSshKey"] for name, d in deployed.items() if d["backupSshKey"] is not None}
if ssh_keys:
    pulumi.export("backupSshKeys", ssh_keys)
pulumi.export("adminPasswords", pulumi.Output.secret(
    {name: pw for d in deployed.values() for name, pw in d["adminPasswords"].items()}))
