"""Backups with restic: restic.py (install command, one command per site, systemd units) and
the two programs it installs, wpfleet_backup.py and wpfleet_restore.py (shared part: programs.py).
"""
