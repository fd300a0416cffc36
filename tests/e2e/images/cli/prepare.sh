#!/bin/bash
# Runs inside the wordpress:cli stand-in's root fs after apt (stage.sh).
set -euo pipefail
# no php.ini, like the official php images (PHP's built-in defaults; Debian's CLI php.ini
# would set memory_limit=-1 and more); extra ini files from PHP_INI_SCAN_DIR (changes)
rm -f /etc/php/8.2/cli/php.ini
mkdir -p /usr/local/etc/php/conf.d /var/www/html
chown www-data:www-data /var/www/html
