"""Apache on the box: the site and backend vhosts, the front door, the page cache, the scripts
that apply a conf safely, the verified reload, and certbot's certificates through Apache.

vhost.py (site/backend confs, ACME conf, the commands), frontdoor.py (TLS policy, default vhost),
cache.py (opt-in page cache), scripts.py (install, apply/remove one conf), reload.py (the
verified graceful reload), certbot.py (cert-<name> commands and the renewal hook).
"""
