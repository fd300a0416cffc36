#!/bin/bash
# A test box that boots like a real server, and the services beside it (docs/testing.md,
# "The test box").
#
#   tests/e2e/box.sh start [--fresh]   start everything; the LAST stdout line is
#                                      "ADDRESS SSH_PORT KEY_FILE"; the lines before it are
#                                      KEY=VALUE (also written to /run/wpfleet-box/env)
#   tests/e2e/box.sh stop              stop and remove everything start made (caches stay)
#   tests/e2e/box.sh status            print the same lines if the box runs, else exit 1
#
# `start` on a box that already runs prints its lines again and changes nothing; `start
# --fresh` stops it first and starts a brand-new box (what the e2e tests do, once per session).
# Progress and timings go to stderr. One box per machine (a lock serialises start and stop).
# If tests/e2e/images/load.sh exists, start loads the stand-in images into the box's own
# dockerd with it (WPFLEET_BOX_IMAGES=0 skips that); a failing load fails the start.
#
# Topology (nothing listens on the machine's own interfaces):
#   network namespace wpfbox  <- veth wpfbox-h (10.213.255.1, machine) / wpfbox-n (.2, netns)
#     private dockerd (own socket, exec-root, cgroup parent; data root in the cache)
#     bridge wpfbox0 10.213.0.0/24, gateway .1 = the side services:
#       DNS :53 (pebble-challtestsrv: the test names -> the box), pebble ACME :14000/:15000,
#       fake DuckDNS :443/:80 (www.duckdns.org), SMTP sink :25/:587/:465
#     .10 the box (systemd PID 1, sshd :22, its own dockerd), .3 the SFTP/restic target
#   The machine routes 10.213.0.0/24 to the netns: it reaches the box like a server.
#   The box reaches only that network and Debian's mirror (a relay on 10.213.255.1:3142,
#   DNAT'd from the mirror's address:80); everything else is rejected in DOCKER-USER.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
RUN=${WPFLEET_BOX_RUN:-/run/wpfleet-box}
CACHE=${WPFLEET_BOX_CACHE:-/var/cache/wpfleet-box}
NET=${WPFLEET_BOX_NET:-10.213.0}        # the test network: $NET.0/24
LINK=${WPFLEET_BOX_LINK:-10.213.255}    # the machine <-> netns link: $LINK.0/30
NETNS=wpfbox
VETH_HOST=wpfbox-h
VETH_NS=wpfbox-n
BRIDGE=wpfbox0
GW=$NET.1
BOX_IP=$NET.10
SFTP_IP=$NET.3
BOX=wpfbox            # container names
SFTP=wpfbox-sftp
VOLUME=wpfbox-docker
RELAY_PORT=3142
CGROUP_PARENT=wpfleet-box
DOCKER_BIN=/usr/bin/docker            # the client that matches Debian's dockerd
[ -x "$DOCKER_BIN" ] || DOCKER_BIN=docker
SOCK=$RUN/docker.sock
# test names (all resolve through the box's DNS, the gateway)
ACME_NAME=acme.test
SMTP_NAME=smtp.test
SFTP_NAME=backup.test
DUCKDNS_NAMES="www.duckdns.org duckdns.org"

now() { cut -d' ' -f1 /proc/uptime; }
T_START=$(now)
since() { awk -v t="$1" '{printf "%.1f", $1 - t}' /proc/uptime; }
say() { echo "box.sh: $*" >&2; }
die() { echo "box.sh: ERROR: $*" >&2; exit 1; }
dk() { "$DOCKER_BIN" -H "unix://$SOCK" "$@"; }
in_ns() { nsenter --net="/run/netns/$NETNS" "$@"; }

need_tools() {
  local missing=() t pkg
  for t in dockerd:docker.io containerd:containerd runc:runc debootstrap:debootstrap \
           ip:iproute2 nsenter:util-linux iptables:iptables pebble:pebble \
           pebble-challtestsrv:pebble ssh:openssh-client ssh-keygen:openssh-client \
           openssl:openssl python3:python3 curl:curl flock:util-linux; do
    command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t#*:}")
  done
  [ ${#missing[@]} = 0 ] || die "missing tools: apt-get install $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')"
  [ "$(id -u)" = 0 ] || die "run as root (it creates a network namespace and a dockerd)"
}

# the image's content key: a hash of everything that goes into it
image_key() {
  (cd "$HERE/box" && { cat build-image.sh; find image -type f -print0 | sort -z \
    | xargs -0 sha256sum; find image -printf '%p %m\n' | sort; }) | sha256sum | cut -c1-16
}

running() {
  [ -S "$SOCK" ] && [ "$(dk inspect -f '{{.State.Running}}' "$BOX" 2>/dev/null)" = true ]
}

print_lines() {
  cat "$RUN/env"
  echo "$BOX_IP 22 $RUN/id_ed25519"
}

wait_for() {  # wait_for SECONDS WHAT CMD...: retry CMD until it succeeds
  local secs=$1 what=$2 t0; shift 2; t0=$(now)
  until "$@" >/dev/null 2>&1; do
    awk -v t="$t0" -v s="$secs" '{exit !($1 - t > s)}' /proc/uptime && die "$what: not ready after ${secs}s"
    sleep 0.2
  done
}

start_bg() {  # start_bg NAME CMD...: a daemon in its own session, pid in $RUN/pids/NAME.pid
  local name=$1; shift
  # fds 8 and 9 hold box.sh's locks: the daemons must not inherit them
  setsid "$@" >"$RUN/logs/$name.log" 2>&1 </dev/null 8>&- 9>&- &
  echo $! >"$RUN/pids/$name.pid"
}

alive() {  # alive PID: running (a zombie waiting for the machine's init to reap it is not)
  local s
  s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [ -n "$s" ] && [ "${s#Z}" = "$s" ]
}

kill_pidfile() {  # kill_pidfile FILE: TERM the process group, then KILL after 20 s
  local f=$1 pid i
  [ -f "$f" ] || return 0
  pid=$(cat "$f"); rm -f "$f"
  [ -n "$pid" ] && alive "$pid" || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 200); do alive "$pid" || return 0; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
}

# ------------------------------------------------------------------ image
ensure_image_tar() {
  local key=$1 tar=$CACHE/images/box-$1.tar t0
  mkdir -p "$CACHE/images"
  exec 9>"$CACHE/build.lock"
  flock 9
  if [ ! -s "$tar" ]; then
    t0=$(now)
    say "no cached image for key $key: building it (debootstrap; 2-5 minutes)"
    bash "$HERE/box/build-image.sh" "$tar"
    say "image built in $(since "$t0")s"
    # older keys: their tarballs go (the cache holds one image)
    find "$CACHE/images" -name 'box-*.tar' ! -name "box-$key.tar" -delete
  fi
  flock -u 9
}

ensure_image_loaded() {
  local key=$1 t0 old
  if ! dk image inspect "wpfleet-box:$key" >/dev/null 2>&1; then
    t0=$(now)
    dk import --change 'ENTRYPOINT ["/usr/local/sbin/wpfleet-box-init"]' \
      "$CACHE/images/box-$key.tar" "wpfleet-box:$key" >/dev/null
    say "imported the image into the box's dockerd in $(since "$t0")s"
  fi
  for old in $(dk images --format '{{.Repository}}:{{.Tag}}' wpfleet-box | grep -vx "wpfleet-box:$key" || true); do
    dk rmi "$old" >/dev/null 2>&1 || true
  done
}

# ------------------------------------------------------------------ network
net_up() {
  local used
  used=$(ip -o -4 addr show | awk '{print $4}' | grep -E "^(${NET//./\\.}\.|${LINK//./\\.}\.)" || true)
  [ -z "$used" ] || die "addresses in $NET.0/24 or $LINK.0/30 are already on this machine ($used):" \
    "stop the other box (box.sh stop) or set WPFLEET_BOX_NET/WPFLEET_BOX_LINK"
  ip netns add "$NETNS"
  ip link add "$VETH_HOST" type veth peer name "$VETH_NS" netns "$NETNS"
  ip addr add "$LINK.1/30" dev "$VETH_HOST"
  ip link set "$VETH_HOST" up
  ip -n "$NETNS" addr add "$LINK.2/30" dev "$VETH_NS"
  ip -n "$NETNS" link set "$VETH_NS" up
  ip -n "$NETNS" link set lo up
  ip -n "$NETNS" route add default via "$LINK.1"
  ip route add "$NET.0/24" via "$LINK.2" dev "$VETH_HOST"
}

firewall() {  # the box's egress policy, inside the netns (gone with it)
  local mirror=$1
  in_ns iptables -w -F DOCKER-USER
  in_ns iptables -w -A DOCKER-USER -i "$BRIDGE" -o "$BRIDGE" -j RETURN
  in_ns iptables -w -A DOCKER-USER -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
  # the machine reaches everything on the test network, as a user reaches a server
  in_ns iptables -w -A DOCKER-USER -i "$VETH_NS" -o "$BRIDGE" -j ACCEPT
  # the box reaches Debian's mirror through the relay, and nothing else off the test network
  in_ns iptables -w -A DOCKER-USER -i "$BRIDGE" -o "$VETH_NS" -d "$LINK.1" -p tcp \
    --dport "$RELAY_PORT" -j ACCEPT
  in_ns iptables -w -A DOCKER-USER -i "$BRIDGE" -j REJECT --reject-with icmp-admin-prohibited
  in_ns iptables -w -A DOCKER-USER -j RETURN
  in_ns iptables -w -t nat -I PREROUTING -i "$BRIDGE" -d "$mirror" -p tcp --dport 80 \
    -j DNAT --to-destination "$LINK.1:$RELAY_PORT"
  # the side services on the gateway: only from the test network and the machine
  in_ns iptables -w -I INPUT -i "$BRIDGE" -d "$LINK.2" -j REJECT
}

# ------------------------------------------------------------------ keys and certificates
make_keys() {
  local k=$RUN/keys
  mkdir -p "$k" "$RUN/hostkeys/etc/ssh" "$RUN/sftp-hostkeys/etc/ssh"
  ssh-keygen -q -t ed25519 -N '' -C "root@wpfleet-test-machine" -f "$RUN/id_ed25519"
  ssh-keygen -q -t ed25519 -N '' -C "root@wpfleet-box" -f "$k/box_root_ed25519"
  ssh-keygen -q -A -f "$RUN/hostkeys"
  ssh-keygen -q -A -f "$RUN/sftp-hostkeys"
  # known_hosts for the box on any port (22, and whatever hardenSsh moves it to)
  awk -v ip="$BOX_IP" '{print ip, $1, $2}' "$RUN"/hostkeys/etc/ssh/ssh_host_*_key.pub >"$RUN/known_hosts"
  awk -v ip="$BOX_IP" '{print "[" ip "]:*", $1, $2}' \
    "$RUN"/hostkeys/etc/ssh/ssh_host_*_key.pub >>"$RUN/known_hosts"
  # a test CA for the side services' TLS (pebble's API, DuckDNS, SMTP); pebble signs the sites
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=wpfleet-box test CA" -keyout "$k/test-ca.key" -out "$RUN/test-ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$ACME_NAME" \
    -keyout "$k/services.key" -out "$k/services.csr" 2>/dev/null
  local san="DNS:$ACME_NAME,DNS:$SMTP_NAME,IP:$GW" n
  for n in $DUCKDNS_NAMES; do san="$san,DNS:$n"; done
  openssl x509 -req -in "$k/services.csr" -CA "$RUN/test-ca.pem" -CAkey "$k/test-ca.key" \
    -CAcreateserial -days 30 -out "$k/services.pem" \
    -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san") 2>/dev/null
  chmod 0600 "$k"/*.key "$RUN/id_ed25519"
  cat >"$RUN/ssh_config" <<EOF
Host $BOX_IP wpfleet-box
  HostName $BOX_IP
  User root
  IdentityFile $RUN/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $RUN/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 10
EOF
  # `ssh` that uses it: put $RUN/bin first on PATH (e.g. for DOCKER_HOST=ssh://root@ADDRESS)
  mkdir -p "$RUN/bin"
  printf '#!/bin/sh\nexec /usr/bin/ssh -F %q "$@"\n' "$RUN/ssh_config" >"$RUN/bin/ssh"
  chmod 0755 "$RUN/bin/ssh"
}

# ------------------------------------------------------------------ side services
side_services() {
  local mirror=$1 name
  mkdir -p "$RUN/pebble" "$RUN/mail"
  start_bg challtestsrv nsenter --net="/run/netns/$NETNS" pebble-challtestsrv -defaultIPv4 "$BOX_IP" -defaultIPv6 "" \
    -dns01 "$GW:53" -http01 "" -https01 "" -tlsalpn01 "" -management "$GW:8055"
  cat >"$RUN/pebble/config.json" <<EOF
{"pebble": {"listenAddress": "$GW:14000", "managementListenAddress": "$GW:15000",
  "certificate": "$RUN/keys/services.pem", "privateKey": "$RUN/keys/services.key",
  "httpPort": 80, "tlsPort": 443, "ocspResponderURL": "", "externalAccountBindingRequired": false}}
EOF
  # NOSLEEP: no random VA delay; NONCEREJECT=0: no deliberate badNonce errors
  start_bg pebble env PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 \
    nsenter --net="/run/netns/$NETNS" pebble -config "$RUN/pebble/config.json" -dnsserver "$GW:53" -strict=false
  start_bg duckdns nsenter --net="/run/netns/$NETNS" python3 "$HERE/box/sidecar.py" duckdns --listen "$GW" \
    --cert "$RUN/keys/services.pem" --key "$RUN/keys/services.key" \
    --log "$RUN/duckdns.log" --tokens "$RUN/duckdns.tokens"
  start_bg smtp nsenter --net="/run/netns/$NETNS" python3 "$HERE/box/sidecar.py" smtp --listen "$GW" \
    --cert "$RUN/keys/services.pem" --key "$RUN/keys/services.key" \
    --maildir "$RUN/mail" --log "$RUN/mail.log"
  start_bg relay python3 "$HERE/box/sidecar.py" relay --listen "$LINK.1:$RELAY_PORT" \
    --target "$mirror:80"
  touch "$RUN/duckdns.log" "$RUN/mail.log"
  wait_for 30 "pebble-challtestsrv" curl -sf -X POST "http://$GW:8055/clear-a" -d '{"host":"x."}'
  # names: the side services on the gateway, the SFTP target, Debian's mirror; every other
  # name (the sites') resolves to the box
  for name in $ACME_NAME $SMTP_NAME $DUCKDNS_NAMES; do
    curl -sf -X POST "http://$GW:8055/add-a" -d "{\"host\":\"$name.\",\"addresses\":[\"$GW\"]}" >/dev/null
  done
  curl -sf -X POST "http://$GW:8055/add-a" -d "{\"host\":\"$SFTP_NAME.\",\"addresses\":[\"$SFTP_IP\"]}" >/dev/null
  curl -sf -X POST "http://$GW:8055/add-a" -d "{\"host\":\"deb.debian.org.\",\"addresses\":[\"$mirror\"]}" >/dev/null
  wait_for 30 pebble curl -sf --cacert "$RUN/test-ca.pem" "https://$GW:15000/roots/0" -o "$RUN/ca.pem"
  curl -sf --cacert "$RUN/test-ca.pem" "https://$GW:15000/intermediates/0" -o "$RUN/ca-intermediate.pem"
  wait_for 30 "duckdns fake" curl -sf --cacert "$RUN/test-ca.pem" --resolve "www.duckdns.org:443:$GW" \
    "https://www.duckdns.org/" -o /dev/null
  wait_for 30 "smtp sink" bash -c "exec 3<>/dev/tcp/$GW/25"
  wait_for 30 "mirror relay" bash -c "exec 3<>/dev/tcp/$LINK.1/$RELAY_PORT"
}

start_sftp() {  # an sshd that only speaks SFTP, for restic's sftp: repositories
  local key=$1 d=$RUN/sftp
  mkdir -p "$d/conf" "$d/repo"
  cp "$RUN"/sftp-hostkeys/etc/ssh/ssh_host_* "$d/conf/"
  cp "$RUN/keys/box_root_ed25519.pub" "$d/conf/authorized_keys"
  cat "$RUN/id_ed25519.pub" >>"$d/conf/authorized_keys"   # the machine may look too
  cat >"$d/conf/run.sh" <<'EOF'
#!/bin/bash
set -euo pipefail
id restic >/dev/null 2>&1 || useradd -m -u 1500 -s /bin/bash restic
usermod -p "*" restic
install -d -o restic -g restic -m 0700 /home/restic/.ssh
install -o restic -g restic -m 0600 /wpfbox/authorized_keys /home/restic/.ssh/authorized_keys
install -d -m 0755 /etc/ssh/sftp-keys
for k in /wpfbox/ssh_host_*; do install -m "$(case $k in *.pub) echo 0644;; *) echo 0600;; esac)" "$k" /etc/ssh/sftp-keys/; done
chown restic:restic /srv/restic
cat >/etc/ssh/sshd_sftp.conf <<'EOC'
Port 22
HostKey /etc/ssh/sftp-keys/ssh_host_ed25519_key
HostKey /etc/ssh/sftp-keys/ssh_host_ecdsa_key
HostKey /etc/ssh/sftp-keys/ssh_host_rsa_key
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers restic
Subsystem sftp internal-sftp
ForceCommand internal-sftp
AllowTcpForwarding no
X11Forwarding no
EOC
mkdir -p /run/sshd
exec /usr/sbin/sshd -D -e -f /etc/ssh/sshd_sftp.conf
EOF
  chmod 0755 "$d/conf/run.sh"
  dk run -d --name "$SFTP" --hostname "$SFTP_NAME" --network "$NETNS" --ip "$SFTP_IP" \
    --restart unless-stopped -v "$d/conf:/wpfbox:ro" -v "$d/repo:/srv/restic" \
    --entrypoint /wpfbox/run.sh "wpfleet-box:$key" >/dev/null
}

# ------------------------------------------------------------------ the box
create_box() {
  local key=$1 o=$RUN/overlay
  mkdir -p "$o/root/.ssh" "$o/etc/ssh" "$o/usr/local/share/ca-certificates"
  cp "$RUN/id_ed25519.pub" "$o/root/.ssh/authorized_keys"
  cp "$RUN/keys/box_root_ed25519" "$o/root/.ssh/id_ed25519"
  cp "$RUN/keys/box_root_ed25519.pub" "$o/root/.ssh/id_ed25519.pub"
  awk -v n="$SFTP_NAME" -v ip="$SFTP_IP" '{print n "," ip, $1, $2}' \
    "$RUN"/sftp-hostkeys/etc/ssh/ssh_host_*_key.pub >"$o/root/.ssh/known_hosts"
  chmod 0700 "$o/root/.ssh"; chmod 0600 "$o/root/.ssh/id_ed25519" "$o/root/.ssh/authorized_keys"
  cp "$RUN"/hostkeys/etc/ssh/ssh_host_* "$o/etc/ssh/"
  # the box trusts the side services' CA and pebble's root (as a real box trusts Let's Encrypt)
  cp "$RUN/test-ca.pem" "$o/usr/local/share/ca-certificates/wpfleet-box-test-ca.crt"
  cp "$RUN/ca.pem" "$o/usr/local/share/ca-certificates/wpfleet-box-pebble-root.crt"
  printf 'nameserver %s\noptions timeout:2 attempts:2\n' "$GW" >"$RUN/resolv.conf"
  dk volume create "$VOLUME" >/dev/null
  # --privileged fails here (the machine's bounding set lacks CAP_SYS_RESOURCE): everything
  # else it would give, plus the cgroup tree for systemd and the inner dockerd
  dk create --name "$BOX" --hostname wpfleet-box --network "$NETNS" --ip "$BOX_IP" \
    --cap-add ALL --cap-drop SYS_RESOURCE --cap-drop SYS_TIME --cap-drop SYS_MODULE \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --security-opt systempaths=unconfined --device-cgroup-rule 'a *:* rwm' --device /dev/fuse \
    --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
    --tmpfs /run:rw,nosuid,nodev,mode=755 --tmpfs /run/lock:rw,nosuid,nodev,noexec \
    -v "$VOLUME:/var/lib/docker" -v "$RUN/resolv.conf:/etc/resolv.conf" \
    -e container=docker --stop-signal SIGRTMIN+3 --stop-timeout 30 \
    --restart unless-stopped "wpfleet-box:$key" >/dev/null
  dk cp "$o/." "$BOX:/"
}

box_ssh() { ssh -F "$RUN/ssh_config" "root@$BOX_IP" "$@"; }

load_images() {
  local t0
  if [ "${WPFLEET_BOX_IMAGES:-1}" = 0 ]; then
    say "WPFLEET_BOX_IMAGES=0: no stand-in images loaded into the box"
    return 0
  fi
  if [ ! -x "$HERE/images/load.sh" ]; then
    say "tests/e2e/images/load.sh not found: no stand-in images loaded into the box"
    return 0
  fi
  t0=$(now)
  say "loading the stand-in images into the box's dockerd (tests/e2e/images/load.sh)"
  PATH="$RUN/bin:$PATH" DOCKER_HOST="ssh://root@$BOX_IP" "$HERE/images/load.sh" >&2 \
    || die "tests/e2e/images/load.sh failed"
  say "stand-in images loaded in $(since "$t0")s"
}

write_env() {
  local mirror=$1
  cat >"$RUN/env" <<EOF
WPFLEET_BOX_ADDRESS=$BOX_IP
WPFLEET_BOX_SSH_PORT=22
WPFLEET_BOX_KEY=$RUN/id_ed25519
WPFLEET_BOX_KNOWN_HOSTS=$RUN/known_hosts
WPFLEET_BOX_SSH_CONFIG=$RUN/ssh_config
WPFLEET_BOX_SSH_BIN=$RUN/bin
WPFLEET_BOX_HOST_KEY="$(cut -d' ' -f1,2 "$RUN/hostkeys/etc/ssh/ssh_host_ed25519_key.pub")"
WPFLEET_BOX_DOCKER_HOST=unix://$SOCK
WPFLEET_BOX_CA=$RUN/ca.pem
WPFLEET_BOX_TEST_CA=$RUN/test-ca.pem
WPFLEET_BOX_ACME_DIR=https://$ACME_NAME:14000/dir
WPFLEET_BOX_ACME_MANAGEMENT=https://$GW:15000
WPFLEET_BOX_DNS=$GW:53
WPFLEET_BOX_DNS_MANAGEMENT=http://$GW:8055
WPFLEET_BOX_DUCKDNS_LOG=$RUN/duckdns.log
WPFLEET_BOX_DUCKDNS_TOKENS=$RUN/duckdns.tokens
WPFLEET_BOX_SMTP_HOST=$SMTP_NAME
WPFLEET_BOX_SMTP_MAILDIR=$RUN/mail
WPFLEET_BOX_SMTP_LOG=$RUN/mail.log
WPFLEET_BOX_SFTP_REPOSITORY=sftp:restic@$SFTP_NAME:/srv/restic/wpfleet
WPFLEET_BOX_SFTP_DIR=$RUN/sftp/repo
WPFLEET_BOX_MIRROR=$mirror
WPFLEET_BOX_MIRROR_RELAY=$LINK.1:$RELAY_PORT
WPFLEET_BOX_API=http://127.0.0.1:8180
EOF
}

cmd_start() {
  local fresh=0 key mirror t0
  [ "${1:-}" = --fresh ] && fresh=1
  need_tools
  if [ $fresh = 0 ] && running && [ -f "$RUN/env" ]; then
    say "the box already runs (start --fresh for a new one)"
    print_lines
    return 0
  fi
  if [ -d "$RUN" ] || ip netns list | grep -qw "$NETNS"; then
    say "removing the previous box"
    cmd_stop
  fi
  mkdir -p "$RUN/pids" "$RUN/logs"
  key=$(image_key)
  ensure_image_tar "$key"
  mirror=$(getent ahostsv4 deb.debian.org | awk 'NR == 1 {print $1}')
  [ -n "$mirror" ] || die "deb.debian.org does not resolve on this machine"

  t0=$(now)
  net_up
  mkdir -p "$CACHE/docker" "$RUN/exec"
  # `nsenter --net`, not `ip netns exec` (that remounts /sys and hides the cgroups)
  start_bg dockerd nsenter --net="/run/netns/$NETNS" dockerd -H "unix://$SOCK" \
    --data-root "$CACHE/docker" --exec-root "$RUN/exec" --pidfile "$RUN/docker.pid" \
    --storage-driver overlay2 --exec-opt native.cgroupdriver=cgroupfs \
    --cgroup-parent "/$CGROUP_PARENT" --bridge=none --iptables=true --ip-masq=true \
    --userland-proxy=false --log-level warn
  wait_for 60 "the box's dockerd (logs: $RUN/logs/dockerd.log)" curl -sf --unix-socket "$SOCK" http://d/_ping
  say "network namespace and dockerd up in $(since "$t0")s"
  # leftovers of a run that was killed before its stop (dockerd restarts them at once, and
  # creates the missing sources of their bind mounts as directories)
  dk rm -f "$BOX" "$SFTP" >/dev/null 2>&1 || true
  rm -rf "$RUN/resolv.conf" "$RUN/sftp"
  dk volume rm "$VOLUME" >/dev/null 2>&1 || true
  dk network rm "$NETNS" >/dev/null 2>&1 || true
  ensure_image_loaded "$key"
  dk network create --driver bridge --subnet "$NET.0/24" --gateway "$GW" \
    -o com.docker.network.bridge.name="$BRIDGE" "$NETNS" >/dev/null
  firewall "$mirror"

  t0=$(now)
  make_keys
  side_services "$mirror"
  start_sftp "$key"
  say "keys, CA, DNS, pebble, DuckDNS, SMTP, SFTP up in $(since "$t0")s"

  t0=$(now)
  create_box "$key"
  dk start "$BOX" >/dev/null
  wait_for 90 "ssh root@$BOX_IP" box_ssh true
  say "box booted, ssh answers in $(since "$t0")s"
  box_ssh update-ca-certificates >/dev/null 2>&1 || say "update-ca-certificates failed in the box"
  local state
  state=$(box_ssh 'timeout 60 systemctl is-system-running --wait' 2>/dev/null || true)
  say "systemd in the box: $state"
  [ "$state" = running ] || box_ssh 'systemctl --failed --no-legend --plain' >&2 || true
  wait_for 60 "the box's own dockerd" box_ssh docker info
  write_env "$mirror"
  load_images
  say "started in $(since "$T_START")s"
  print_lines
}

cgroup_procs() {  # the processes in the cgroups under our parent (the containers' processes)
  find /sys/fs/cgroup/pids/"$CGROUP_PARENT" /sys/fs/cgroup/systemd/"$CGROUP_PARENT" \
    /sys/fs/cgroup/unified/"$CGROUP_PARENT" /sys/fs/cgroup/"$CGROUP_PARENT" \
    -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u
}

kill_cgroup_procs() {
  local pids i
  for i in $(seq 50); do
    pids=$(for p in $(cgroup_procs); do alive "$p" && echo "$p"; done)
    [ -n "$pids" ] || return 0
    [ "$i" = 1 ] && [ -S "$SOCK" ] && say "killing container processes dockerd no longer knows:" $pids
    kill -KILL $pids 2>/dev/null || true
    sleep 0.2
  done
  say "processes left in the cgroups under /$CGROUP_PARENT: $(cgroup_procs | tr '\n' ' ')"
}

cmd_stop() {
  local t0 pid m
  t0=$(now)
  if [ -S "$SOCK" ] && curl -sf --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; then
    dk rm -f "$BOX" "$SFTP" >/dev/null 2>&1 || true
    dk volume rm "$VOLUME" >/dev/null 2>&1 || true
    dk network rm "$NETNS" >/dev/null 2>&1 || true
  fi
  for pid in "$RUN"/pids/*.pid; do
    [ -e "$pid" ] && [ "$pid" != "$RUN/pids/dockerd.pid" ] && kill_pidfile "$pid"
  done
  # a dockerd that was killed leaves its containers running (their shims outlive it): every
  # process of theirs sits in a cgroup under our parent; kill them before their shims
  kill_cgroup_procs
  kill_pidfile "$RUN/pids/dockerd.pid"
  # anything still running from our exec root (containerd, shims of a killed dockerd)
  for pid in $(ps -eo pid= -o args= | awk -v r="$RUN/exec" 'index($0, r) {print $1}'); do
    kill -KILL "$pid" 2>/dev/null || true
  done
  kill_cgroup_procs
  # mounts a killed dockerd can leave (deepest first)
  for m in $(awk -v a="$RUN" -v b="$CACHE/docker" 'index($2, a) == 1 || index($2, b) == 1 {print $2}' /proc/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  ip netns del "$NETNS" 2>/dev/null || true
  ip link del "$VETH_HOST" 2>/dev/null || true
  # cgroups the box's systemd and inner dockerd made under our parent (empty once all is dead)
  local i
  for i in $(seq 50); do
    for m in /sys/fs/cgroup/*/"$CGROUP_PARENT" /sys/fs/cgroup/"$CGROUP_PARENT"; do
      [ -d "$m" ] && find "$m" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
    compgen -G "/sys/fs/cgroup/*/$CGROUP_PARENT" >/dev/null || break
    sleep 0.2
  done
  if compgen -G "/sys/fs/cgroup/*/$CGROUP_PARENT" >/dev/null; then
    say "could not remove the cgroups under /$CGROUP_PARENT (processes left: $(cgroup_procs | tr '\n' ' '))"
  fi
  rm -rf "$RUN"
  say "stopped in $(since "$t0")s"
}

cmd_status() {
  if running && [ -f "$RUN/env" ]; then print_lines; else echo "box.sh: no box running" >&2; return 1; fi
}

lock() {  # lock SECONDS: one box per machine, starts and stops never interleave
  mkdir -p "$CACHE"
  exec 8>"$CACHE/box.lock"
  flock -w "$1" 8 && return 0
  [ "$2" = stop ] || die "another box.sh start/stop holds $CACHE/box.lock"
  say "another box.sh holds $CACHE/box.lock for ${1}s: stopping anyway"
}

case "${1:-}" in
  start) shift; lock 900 start; cmd_start "$@" ;;
  stop) need_tools; lock 120 stop; cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 start [--fresh] | stop | status" >&2; exit 2 ;;
esac
