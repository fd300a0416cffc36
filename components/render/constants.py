"""Constants shared by more than one area of render/ (imports nothing).

ACME_PATH: the HTTP-01 challenge path, served from acme.webroot and never proxied or redirected;
every rewrite rule of a vhost (apache/vhost.py, wordpress/php.py's body limit) leaves it alone.
"""

ACME_PATH = "/.well-known/acme-challenge/"

__all__ = ["ACME_PATH"]
