"""What WordPress needs on the box besides its containers.

install.py (unattended install and upgrades), php.py (PHP ini, wp-config constants, mail plugin),
tools.py (wpfleet-wp, wpfleet-logs, WP-Cron timers, logrotate), cli.py (the wp-cli bash function),
secrets.py (the site's secret files the containers mount), db.py (the DB user's password).
"""
