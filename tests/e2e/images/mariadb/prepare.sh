#!/bin/bash
# Runs inside the mariadb stand-in's root fs after apt (stage.sh).
set -euo pipefail
# the official image's mysql user and group: 999
groupadd --system --gid 999 mysql
useradd --system --uid 999 --gid mysql --home-dir /var/lib/mysql --no-create-home \
  --shell /usr/sbin/nologin mysql
# an empty data directory: Docker copies an image's directory into an empty new volume, and
# the entrypoint initializes the volume only when it holds no database yet
rm -rf /var/lib/mysql /run/mysqld
mkdir -p /var/lib/mysql /run/mysqld /docker-entrypoint-initdb.d
chown mysql:mysql /var/lib/mysql /run/mysqld
chmod 1777 /run/mysqld  # as the official image: a container run with --user can use it too
