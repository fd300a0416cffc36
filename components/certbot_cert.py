"""CertbotCert: one TLS site's certificate, issued after its Apache conf and renewed by certbot.

The command (rendered by `components.render.apache.certbot`) runs `certbot certonly --webroot` for the
site's domain and aliases and reloads Apache gracefully, so the conf's `<IfFile>`-guarded HTTPS
vhost goes live in the same `pulumi up`. Changed aliases re-run it in place (the certificate is
expanded under the same name); a failure leaves the site on HTTP and every other site untouched.
On delete the certificate is kept unless `acme.revokeOnDelete` is set.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.box import Box
from components.config import BackendConfig, SiteConfig, StackConfig
from components.render.apache import certbot


@dataclass(frozen=True, kw_only=True)
class CertbotCertArgs:
    stack: StackConfig  # the validated stack (acme settings)
    host: SiteConfig | BackendConfig  # the site or backend route that gets the certificate
    box: Box  # runs the command on the box
    conf: pulumi.Resource  # the host's Apache conf command: its webroot alias must exist first

    def __post_init__(self) -> None:
        if not self.host.tls:
            raise ValueError(f"CertbotCertArgs.host: {self.host.name!r} has tls: false")
        if self.host not in self.stack.tls_hosts:
            raise ValueError(f"CertbotCertArgs.host: {self.host.name!r} is not in this stack")
        if not self.stack.acme.email:
            raise ValueError("CertbotCertArgs.stack: acme.email is required for certificates")


class CertbotCert(pulumi.ComponentResource):
    """A certificate for `host.domains` at `live_path`, kept fresh by certbot's timer."""

    live_path: str  # <configDir>/live/<domain>/fullchain.pem
    domains: list[str]
    command: pulumi.CustomResource

    def __init__(self, name: str, args: CertbotCertArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wpfleet:index:CertbotCert", name, None, opts)
        spec = certbot.cert_command(args.stack, args.host)
        self.command = args.box.run(spec, parent=self, depends_on=[args.conf])
        self.live_path = certbot.live_path(args.stack, args.host)
        self.domains = list(args.host.domains)
        self.register_outputs({"livePath": self.live_path, "domains": self.domains})
