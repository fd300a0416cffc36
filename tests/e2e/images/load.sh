#!/usr/bin/env bash
# load.sh [CACHE_DIR]: loads the stand-in images into the Docker daemon of DOCKER_HOST
# (unix:///path/docker.sock, ssh://root@10.x.y.z, or unset: the default daemon) under the
# exact tags of CACHE_DIR/manifest (default: what build.sh builds or finds in its cache).
# Idempotent: an image whose tags all point to its image ID already is not sent again.
# LOAD_SSH_OPTS (words, no quoting): options for the `ssh` the docker CLI runs for an ssh://
# DOCKER_HOST, e.g. "-i KEY -o IdentitiesOnly=yes -o UserKnownHostsFile=FILE".
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DOCKER=${DOCKER:-docker}
dir=${1:-$("$HERE/build.sh" | tail -n 1)}
[ -f "$dir/manifest" ] || { echo "load.sh: no manifest in '$dir' (run build.sh)" >&2; exit 2; }

if [ -n "${LOAD_SSH_OPTS:-}" ]; then  # an `ssh` first on PATH that adds them
  read -ra opts <<<"$LOAD_SSH_OPTS"
  wrap=$(mktemp -d)
  trap 'rm -rf "$wrap"' EXIT
  printf '#!/bin/sh\nexec %q%s "$@"\n' "$(command -v ssh)" "$(printf ' %q' "${opts[@]}")" > "$wrap/ssh"
  chmod 0755 "$wrap/ssh"
  PATH=$wrap:$PATH
fi

declare -A missing=() id_of=()  # image name -> tags not on the daemon yet; -> its image ID
while IFS=$'\t' read -r tag name id key; do
  id_of[$name]=$id
  have=$("$DOCKER" image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
  if [ "$have" = "$id" ]; then
    echo "load.sh: $tag: already loaded ($id, stand-in $key)"
  else
    missing[$name]="${missing[$name]:-}$tag "
  fi
done < "$dir/manifest"
for name in "${!missing[@]}"; do
  start=$SECONDS
  # the `docker save` layout build.sh left unpacked, streamed as one archive (all its tags)
  tar -C "$dir/$name" -cf - . | "$DOCKER" load -q >/dev/null
  echo "load.sh: ${missing[$name]% }: loaded ${id_of[$name]} in $((SECONDS - start)) s"
done
