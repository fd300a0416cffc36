#!/usr/bin/env bash
# build.sh [--wordpress TAG]... [--mariadb TAG]... [--cli TAG]...
#
# Builds (or finds in the cache) the stand-in images of wordpress, mariadb and wordpress:cli
# from Debian 12 packages (README.md). Default tags: the ones the code pins
# (WORDPRESS_IMAGE, MARIADB_IMAGE, WPCLI_IMAGE in components/); a flag replaces them (repeat
# it for more tags).
# Each image is a `docker load` archive, unpacked: NAME/manifest.json (its tags), NAME/ID.json
# (its config: NAME/config.json; no label: the official wordpress images carry none, wpfleet
# reads none; `docker history` names the IMAGE_KEY) and NAME/layer.tar (the root fs).
# Not `docker import --change`: Docker 20.10 (Debian's) refuses STOPSIGNAL there.
# Last line of output: the cache directory holding them and `manifest`, one line per tag:
# TAG<TAB>NAME<TAB>IMAGE_ID<TAB>IMAGE_KEY. load.sh loads them. Exit 3: a tool is missing (the
# last line names the package to install).
#
# Cache (WPFLEET_IMAGES_CACHE, default /var/cache/wpfleet-images), outside the checkout:
#   stages/NAME-KEY.tar  debootstrap + apt of one image, keyed by its packages and prepare.sh
#   KEY/                 the finished images, keyed by everything that defines them + tags
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
RELEASE=bookworm
MIRROR=${WPFLEET_DEBIAN_MIRROR:-http://deb.debian.org}
CACHE=${WPFLEET_IMAGES_CACHE:-/var/cache/wpfleet-images}
NAMES=(mariadb wordpress cli)
KEY_GLOB=$(printf '[0-9a-f]%.0s' {1..16})  # a cache key directory (not stages/, apt-archives/)

# exit 3 and one line naming what to install when a tool is missing (callers skip on it)
for tool in debootstrap:debootstrap chroot:coreutils dpkg:dpkg python3:python3 flock:util-linux; do
  if ! command -v "${tool%%:*}" >/dev/null; then
    echo "build.sh: ${tool%%:*} missing: apt-get install ${tool#*:}"; exit 3
  fi
done

code_tag() {  # code_tag CONSTANT: the image reference the code pins (`CONSTANT = "..."`)
  local found
  found=$(grep -rhs --include='*.py' "^$1 = \"" "$REPO/components" | sed 's/^[^"]*"\([^"]*\)".*/\1/' | sort -u)
  if [ "$(printf '%s' "$found" | grep -c .)" != 1 ]; then
    echo "build.sh: not exactly one $1 in $REPO/components: '$found'" >&2; exit 2
  fi
  echo "$found"
}
declare -A TAGS=(
  [wordpress]=$(code_tag WORDPRESS_IMAGE)
  [mariadb]=$(code_tag MARIADB_IMAGE)
  [cli]=$(code_tag WPCLI_IMAGE))
declare -A GIVEN=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --wordpress|--mariadb|--cli)
      [ "$#" -ge 2 ] && [[ $2 =~ ^[a-z0-9./_-]+:[A-Za-z0-9._-]+$ ]] \
        || { echo "build.sh: $1 wants an image reference NAME:TAG, got '${2:-}'" >&2; exit 2; }
      name=${1#--}
      TAGS[$name]="${GIVEN[$name]:+${TAGS[$name]} }$2"; GIVEN[$name]=1; shift 2 ;;
    *) echo "usage: build.sh [--wordpress TAG]... [--mariadb TAG]... [--cli TAG]..." >&2
       exit 2 ;;
  esac
done
for name in "${NAMES[@]}"; do
  [ -n "${TAGS[$name]}" ] || { echo "build.sh: no tag for $name found in the code" >&2; exit 2; }
done

# digest FILE...: one short hash of the files' names, modes and contents (+ the release)
digest() {
  (cd "$HERE" && { echo "$RELEASE"; find "$@" -type f -printf '%p %m\n' | LC_ALL=C sort
                   find "$@" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; }) \
    | sha256sum | cut -c1-16
}
log() { echo "build.sh: $*" >&2; }

# archive NAME TAG...: next to $work/out/NAME/layer.tar, the image config (kept when there is
# one already: the same image ID) and manifest.json naming TAG... (the `docker save` layout);
# prints the image ID (the config's digest)
archive() {
  python3 - "$HERE/$1/config.json" "$work/out/$1" "${IKEY[$1]}" "$(dpkg --print-architecture)" \
    "${@:2}" <<'PY'
import datetime, glob, hashlib, json, os, sys
config_file, out, key, arch, *tags = sys.argv[1:]
made = [p for p in glob.glob(f"{out}/*.json") if not p.endswith("/manifest.json")]
if made:
    image_id = os.path.basename(made[0])[:-len(".json")]
else:
    layer = hashlib.sha256()
    with open(f"{out}/layer.tar", "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            layer.update(chunk)
    config = json.load(open(config_file))
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    image = json.dumps({
        "architecture": arch, "os": "linux", "created": now, "config": config,
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + layer.hexdigest()]},
        "history": [{"created": now, "created_by": f"wpfleet tests/e2e/images/build.sh, stand-in {key}"}],
    }, sort_keys=True).encode()
    image_id = hashlib.sha256(image).hexdigest()
    open(f"{out}/{image_id}.json", "wb").write(image)
with open(f"{out}/manifest.json", "w") as f:
    json.dump([{"Config": f"{image_id}.json", "RepoTags": tags, "Layers": ["layer.tar"]}], f)
print("sha256:" + image_id)
PY
}

# build_layer NAME: $work/out/NAME/layer.tar, the packaged stage (built when missing) with the
# committed files (entrypoints, configs, the wp stand-in) over it
build_layer() {
  local name=$1 stage start root
  stage=$CACHE/stages/$name-$(digest stage.sh base.packages "$name/packages" "$name/prepare.sh").tar
  if [ ! -f "$stage" ]; then
    start=$SECONDS
    RELEASE=$RELEASE MIRROR=$MIRROR CACHE=$CACHE "$HERE/stage.sh" "$name" "$stage.tmp" >&2
    mv "$stage.tmp" "$stage"; log "$name: packages in $((SECONDS - start)) s ($stage)"
  fi
  touch "$stage"
  root=$work/$name
  mkdir "$root" "$work/out/$name"
  tar -C "$root" --numeric-owner -xpf "$stage"
  cp -R --no-preserve=ownership "$HERE/$name/rootfs/." "$root/"
  tar -C "$root" --numeric-owner -cf "$work/out/$name/layer.tar" .
  rm -rf "$root"
}

mkdir -p "$CACHE/stages"
exec 9>"$CACHE/.lock"  # one build at a time on this machine (CI and developers share it)
flock -w 3600 9 || { log "another build holds $CACHE/.lock"; exit 1; }
for dir in "$CACHE"/.work.* "$CACHE"/.stage.*; do  # left by a killed build (none runs now)
  if [ -d "$dir" ] && ! grep -q " $dir/" /proc/mounts; then rm -rf "$dir"; fi
done

declare -A IKEY=()
for name in "${NAMES[@]}"; do IKEY[$name]=$(digest stage.sh build.sh base.packages "$name"); done
KEY=$( { for n in "${NAMES[@]}"; do echo "$n ${IKEY[$n]} ${TAGS[$n]}"; done; } | sha256sum | cut -c1-16)
OUT=$CACHE/$KEY
if [ -f "$OUT/manifest" ]; then
  touch "$OUT"; log "cached: $OUT"; echo "$OUT"; exit 0
fi

work=$(mktemp -d "$CACHE/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/out"
for name in "${NAMES[@]}"; do
  # the same image in an earlier cache directory (only tags or another image changed): its
  # archive, hard-linked, so that its image ID stays and load.sh does not send it again
  prev=$(awk -F '\t' -v n="$name" -v k="${IKEY[$name]}" '$2 == n && $4 == k { print FILENAME; exit }' \
    "$CACHE"/$KEY_GLOB/manifest 2>/dev/null || true)
  if [ -n "$prev" ] && [ -f "${prev%/manifest}/$name/layer.tar" ]; then
    cp -al "${prev%/manifest}/$name" "$work/out/$name"
    rm "$work/out/$name/manifest.json"  # a link: rewritten below with this build's tags
    log "$name: image ${IKEY[$name]} as built before (${prev%/manifest})"
  else
    build_layer "$name"
    log "$name: image ${IKEY[$name]} ($(du -m "$work/out/$name/layer.tar" | cut -f1) MiB)"
  fi
  id=$(archive "$name" ${TAGS[$name]})
  for tag in ${TAGS[$name]}; do
    printf '%s\t%s\t%s\t%s\n' "$tag" "$name" "$id" "${IKEY[$name]}" >> "$work/out/manifest.tmp"
  done
done
mv "$work/out/manifest.tmp" "$work/out/manifest"
mv "$work/out" "$OUT"
# keep the cache small: finished images and stages unused for a week go
find "$CACHE" -mindepth 1 -maxdepth 1 -name "$KEY_GLOB" -mtime +7 -exec rm -rf {} +
find "$CACHE/stages" -name '*.tar' -mtime +7 -delete
echo "$OUT"
