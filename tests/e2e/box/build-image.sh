#!/bin/bash
# Build the test box's root file system (Debian 12 + systemd + sshd + ufw + docker.io + the
# stand-in API) as a tarball: build-image.sh OUT.tar
#
# Called by box.sh only when the cache has no tarball for the current content key (a hash of
# this script and everything under image/), so any edit here or there rebuilds the image.
# Deliberately NOT in the image: apache2, certbot, restic (wpfleet installs them with apt on a
# real box, so it must do so here too).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$1
MIRROR=${WPFLEET_BOX_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
# minbase + what an Ubuntu server has that wpfleet or the tests touch
PACKAGES=(
  systemd systemd-sysv dbus libpam-systemd openssh-server sudo curl ca-certificates openssl
  ufw iptables iproute2 procps kmod less nano cron logrotate tzdata python3 nodejs
  docker.io tini
)
ROOT=$(mktemp -d /var/tmp/wpfleet-box-rootfs.XXXXXX)
cleanup() {
  for m in proc sys dev/pts dev; do umount -l "$ROOT/$m" 2>/dev/null || true; done
  rm -rf --one-file-system "$ROOT"
}
trap cleanup EXIT

T0=$(cut -d' ' -f1 /proc/uptime)
echo "build-image: debootstrap $SUITE from $MIRROR (takes 1-3 minutes)" >&2
debootstrap --variant=minbase --include="$(IFS=,; echo "${PACKAGES[*]}")" \
  "$SUITE" "$ROOT" "$MIRROR" >"$ROOT.debootstrap.log" 2>&1 || {
  tail -n 30 "$ROOT.debootstrap.log" >&2; rm -f "$ROOT.debootstrap.log"; exit 1; }
rm -f "$ROOT.debootstrap.log"
echo "build-image: debootstrap took $(awk -v t="$T0" '{printf "%d", $1 - t}' /proc/uptime)s" >&2

# the box's own files (units, shim, stand-in API), laid over the root file system
cp -a "$HERE/image/." "$ROOT/"
chown -R root:root "$ROOT/etc" "$ROOT/usr/local"
chmod 0755 "$ROOT/usr/local/sbin/wpfleet-box-init"

cat >"$ROOT/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb ${MIRROR%/debian}/debian-security $SUITE-security main
EOF

chroot "$ROOT" /bin/bash -euo pipefail -s <<'EOS'
# a fresh server: host keys are made per box by box.sh (injected before boot), machine-id at boot
rm -f /etc/ssh/ssh_host_*
: >/etc/machine-id
rm -f /var/lib/dbus/machine-id
echo wpfleet-box >/etc/hostname
echo 'LANG=C.UTF-8' >/etc/default/locale
# a persistent journal, as on Ubuntu (minbase leaves it in /run: lost at every reboot)
install -d -g systemd-journal -m 2755 /var/log/journal
install -d -m 0700 /root/.ssh
# root logs in by key only (root has no password; PasswordAuthentication no as on cloud images)
passwd -d root >/dev/null 2>&1 || true
usermod -p '*' root
systemctl enable ssh.service docker.service wpfleet-box-api.service cron.service >/dev/null 2>&1
systemctl disable ssh.socket >/dev/null 2>&1 || true
# nothing a container can do: no consoles, no binfmt, no udev-triggered hardware, no time sync
systemctl mask getty@tty1.service console-getty.service serial-getty@.service \
  proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount systemd-binfmt.service \
  sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
  systemd-firstboot.service systemd-modules-load.service >/dev/null 2>&1
# apt: no package lists in the image (a fresh server runs apt-get update first)
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log /var/log/apt/* /tmp/* /var/tmp/*
EOS
mkdir -p "$ROOT/var/lib/apt/lists/partial"

T1=$(cut -d' ' -f1 /proc/uptime)
tar --numeric-owner --xattrs --acls -C "$ROOT" -cf "$OUT.tmp" .
mv -f "$OUT.tmp" "$OUT"
echo "build-image: $(du -h "$OUT" | cut -f1) tarball in $(awk -v t="$T1" '{printf "%d", $1 - t}' /proc/uptime)s" >&2
