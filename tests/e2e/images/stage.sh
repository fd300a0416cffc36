#!/usr/bin/env bash
# stage.sh NAME OUT.tar: the packaged root fs of one stand-in image (called by build.sh).
#
# A minimal Debian (debootstrap --variant=minbase, shared by the three images and cached as
# stages/base-KEY.tar), then NAME/packages installed with apt (no recommends, no docs, no
# service started), then NAME/prepare.sh run inside it, then apt's lists and caches removed.
# Env: RELEASE, MIRROR, CACHE (from build.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
name=$1 out=$2
base=$CACHE/stages/base-$(cd "$HERE" && cat stage.sh base.packages | sha256sum | cut -c1-16).tar
log() { echo "stage.sh: $name: $*" >&2; }

work=$(mktemp -d "$CACHE/.stage.XXXXXX")
root=$work/root
mounted=()
cleanup() {
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" || true; done
  if grep -q " $work/" /proc/mounts; then  # never delete through a mount (/dev, /proc)
    echo "stage.sh: $work still has mounts: left in place" >&2; return
  fi
  rm -rf "$work"
}
trap cleanup EXIT
bind() {  # bind SRC DEST: a mount undone on exit, whatever happens
  mkdir -p "$2"; mount --bind "$1" "$2"; mounted+=("$2")
}

mkdir -p "$CACHE/apt-archives/partial"  # .debs shared by the stages and across rebuilds
if [ ! -f "$base" ]; then
  log "debootstrap $RELEASE (minbase)"
  mkdir "$root"
  debootstrap --variant=minbase --cache-dir="$CACHE/apt-archives" \
    --include="$(grep -v '^#' "$HERE/base.packages" | xargs | tr ' ' ,)" \
    "$RELEASE" "$root" "$MIRROR/debian" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
  cat > "$root/etc/apt/sources.list" <<EOF
deb $MIRROR/debian $RELEASE main
deb $MIRROR/debian $RELEASE-updates main
deb $MIRROR/debian-security $RELEASE-security main
EOF
  # no documentation, manuals or translations in the images (copyright files stay)
  cat > "$root/etc/dpkg/dpkg.cfg.d/01-wpfleet-nodoc" <<'EOF'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-exclude=/usr/share/lintian/*
EOF
  printf 'APT::Install-Recommends "0";\nAPT::Install-Suggests "0";\n' \
    > "$root/etc/apt/apt.conf.d/01-wpfleet-norecommends"
  find "$root/usr/share/doc" -type f ! -name copyright -delete
  rm -rf "$root"/usr/share/{man,info,locale}/* "$root"/var/cache/apt/*.bin \
    "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
    -cf "$base.tmp" .
  mv "$base.tmp" "$base"
  rm -rf "$root"
fi

mkdir "$root"
tar -C "$root" --numeric-owner -xpf "$base"
bind /proc "$root/proc"
bind /dev "$root/dev"
bind "$CACHE/apt-archives" "$root/var/cache/apt/archives"
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"  # postinst starts no service
chmod 0755 "$root/usr/sbin/policy-rc.d"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"; }
log "apt-get install $(grep -v '^#' "$HERE/$name/packages" | xargs)"
in_root apt-get update -qq >&2
# shellcheck disable=SC2046  # one package a word
in_root apt-get install -y -qq $(grep -v '^#' "$HERE/$name/packages") >"$work/apt.log" 2>&1 \
  || { tail -n 30 "$work/apt.log" >&2; exit 1; }
cp "$HERE/$name/prepare.sh" "$root/tmp/prepare.sh"
in_root /bin/bash /tmp/prepare.sh >&2
in_root apt-get clean
rm -f "$root/usr/sbin/policy-rc.d" "$root/tmp/prepare.sh"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/log/*.log \
  "$root"/var/log/apt/* "$root"/var/cache/debconf/*-old "$root"/tmp/* "$root"/root/.cache
for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[i]}"; done
mounted=()
tar -C "$root" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
  -cf "$out" .
