#!/bin/bash
# Entrypoint of the wordpress stand-in (README.md), the official image's behaviour: for
# `apache2*` (the default command), when the docroot (the working directory, /var/www/html)
# holds no WordPress yet, copy /usr/src/wordpress into it, owned by the web user, keeping any
# plugin, theme or .htaccess already there; then, when there is no wp-config.php and some
# WORDPRESS_* variable is set, write wp-config.php from wp-config-docker.php (which reads
# those variables at run time), each default key/salt replaced by its own random string.
set -Eeuo pipefail

if [[ ${1-} == apache2* ]]; then
  if [ "$(id -u)" = 0 ]; then
    user=${APACHE_RUN_USER:-www-data} group=${APACHE_RUN_GROUP:-www-data}
    user=${user#\#} group=${group#\#}  # Apache accepts '#33'
  else
    user=$(id -u) group=$(id -g)
  fi

  if [ ! -e index.php ] && [ ! -e wp-includes/version.php ]; then
    # a docroot Docker just created is root's: hand it to the web user
    if [ "$(id -u)" = 0 ] && [ "$(stat -c %u:%g .)" = 0:0 ]; then chown "$user:$group" .; fi
    echo >&2 "WordPress not found in $PWD - copying now..."
    if [ -n "$(find . -mindepth 1 -maxdepth 1 -not -name wp-content)" ]; then
      echo >&2 "WARNING: $PWD is not empty! (copying anyhow)"
    fi
    src=(--create --file - --directory /usr/src/wordpress --owner "$user" --group "$group")
    dest=(--extract --file -)
    if [ "$(id -u)" != 0 ]; then dest+=(--no-overwrite-dir); fi
    # what a site may have replaced (a plugin, a theme, .htaccess) is never overwritten
    for path in /usr/src/wordpress/.htaccess /usr/src/wordpress/wp-content/*/*/; do
      path=${path%/}
      [ -e "$path" ] || continue
      rel=${path#/usr/src/wordpress/}
      if [ -e "$PWD/$rel" ]; then
        echo >&2 "WARNING: '$PWD/$rel' exists! (not copying the WordPress version)"
        src+=(--exclude "./$rel")
      fi
    done
    tar "${src[@]}" . | tar "${dest[@]}"
    echo >&2 "Complete! WordPress has been successfully copied to $PWD"
  fi

  wp_envs=("${!WORDPRESS_@}")
  if [ ! -s wp-config.php ] && [ "${#wp_envs[@]}" -gt 0 ]; then
    for template in wp-config-docker.php /usr/src/wordpress/wp-config-docker.php; do
      [ -s "$template" ] || continue
      echo >&2 "No 'wp-config.php' found in $PWD, but 'WORDPRESS_...' variables supplied;" \
        "copying '$template' (${wp_envs[*]})"
      while IFS= read -r line; do
        if [[ $line == *"put your unique phrase here"* ]]; then
          line=${line//put your unique phrase here/$(head -c 1M /dev/urandom | sha1sum | cut -d' ' -f1)}
        fi
        printf '%s\n' "$line"
      done < "$template" > wp-config.php
      if [ "$(id -u)" = 0 ]; then chown "$user:$group" wp-config.php || true; fi
      break
    done
  fi
fi

exec "$@"
