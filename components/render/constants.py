"""Constants shared by more than one area of render/ (imports nothing).

ACME_PATH: the HTTP-01 challenge path, served from acme.webroot and never proxied or redirected;
every rewrite rule of a vhost (apache/vhost.py, wordpress/php.py's body limit) leaves it alone.
APT_GET: apt-get that waits for apt's locks instead of failing at once: wpfleet's own installs
(apache2, certbot, restic, docker.io) run in parallel commands, and a fresh Ubuntu box runs
apt-daily/unattended-upgrades right after boot (seen on the test box: a first `up` failed with
"Could not get lock /var/lib/dpkg/lock-frontend").
"""

ACME_PATH = "/.well-known/acme-challenge/"
APT_GET = "apt-get -o DPkg::Lock::Timeout=600"

__all__ = ["ACME_PATH", "APT_GET"]
