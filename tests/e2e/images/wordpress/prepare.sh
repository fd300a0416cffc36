#!/bin/bash
# Runs inside the wordpress stand-in's root fs after apt (stage.sh).
set -euo pipefail

# 1. WordPress core in /usr/src/wordpress (where the official image keeps it), from Debian's
#    `wordpress` package: unpacked, not installed (its database client and /etc/wordpress
#    layout are not wanted), its symlinks into other packages resolved so that the copy in a
#    volume stands alone like upstream's tarball (the wp-cli container reads it too)
cd /tmp
apt-get download -qq wordpress wordpress-theme-twentytwentythree
mkdir deb
for f in ./*.deb; do dpkg-deb -x "$f" deb; done
ln -s /usr/share/php deb/usr/share/php                # wp-includes/ID3 -> php-getid3
ln -s /usr/share/javascript deb/usr/share/javascript  # underscore, cropper
rm deb/usr/share/wordpress/.htaccess deb/usr/share/wordpress/wp-config.php  # Debian's own
cp -RL deb/usr/share/wordpress /usr/src/wordpress
cp deb/var/lib/wordpress/wp-content/index.php /usr/src/wordpress/wp-content/index.php
cp deb/var/lib/wordpress/wp-content/index.php /usr/src/wordpress/wp-content/themes/index.php
if [ -n "$(find /usr/src/wordpress -type l)" ]; then
  echo "prepare.sh: symlinks left in /usr/src/wordpress" >&2; exit 1
fi
grep -q "wp_version = '6\." /usr/src/wordpress/wp-includes/version.php
rm -rf deb ./*.deb
chown -R www-data:www-data /usr/src/wordpress

# 2. PHP as the official php images: no php.ini (PHP's built-in defaults; Debian's production
#    php.ini would set output_buffering, short_open_tag and more), extra ini files read from
#    /usr/local/etc/php/conf.d (PHP_INI_SCAN_DIR, see `changes`)
rm -f /etc/php/8.2/apache2/php.ini /etc/php/8.2/cli/php.ini
mkdir -p /usr/local/etc/php/conf.d

# 3. Apache as the official php:apache + wordpress images: prefork + mod_php, rewrite,
#    expires, remoteip; %a (the client address remoteip found) instead of %h in log formats;
#    logs to the container's stdout/stderr; an empty /var/www/html owned by www-data
a2dismod -q -f mpm_event >/dev/null 2>&1 || true
a2enmod -q mpm_prefork php8.2 rewrite expires remoteip >/dev/null
find /etc/apache2 -type f -name '*.conf' \
  -exec sed -ri 's/([[:space:]]*LogFormat[[:space:]]+"[^"]*)%h([^"]*")/\1%a\2/g' '{}' +
ln -sfT /dev/stderr /var/log/apache2/error.log
ln -sfT /dev/stdout /var/log/apache2/access.log
ln -sfT /dev/stdout /var/log/apache2/other_vhosts_access.log
rm -rf /var/www/html
mkdir -p /var/www/html
chown www-data:www-data /var/www/html /var/log/apache2 /var/run/apache2 /var/lock/apache2
