#!/usr/bin/env bash
# The Pulumi engine wpfleet's end-to-end tests run: the `pulumi` CLI, the docker, command and
# random resource plugins at the versions requirements.txt pins, and (where it builds) the
# Python language host. Last line of output: the directory that holds them (other tools call
# this script and read that line).
#
# In order:
#   1. a cache hit for the pinned versions under $WPFLEET_ENGINE_CACHE (/var/cache/wpfleet-engine);
#   2. a build: the CLI from its Go module (Go module proxy), the plugins and the language host
#      from release sources outside this checkout: $WPFLEET_ENGINE_SRC holds one entry per
#      repository, named owner+name (pulumi+pulumi-docker, kreuzwerker+terraform-provider-docker,
#      pulumi+pulumi-command, pulumi+pulumi-random, pulumi+pulumi), each a clone or a git
#      directory at any depth below it; the tag needed is exported with `git archive`;
#   3. a `pulumi` already on PATH with those plugin versions installed (`pulumi plugin ls`);
#   4. otherwise exit 3 with one line naming what is missing.
# Nothing is downloaded but Go modules; nothing of the sources is written into this checkout.
set -euo pipefail

CLI_VERSION=3.276.0
DOCKER_VERSION=5.1.0
DOCKER_UPSTREAM=5074970c71ce6cc393c74942d5d628943834beb9  # kreuzwerker v4.5.0: the submodule at v5.1.0
COMMAND_VERSION=1.2.1
RANDOM_VERSION=4.21.1
# pulumi-random v4.21.1's go.mod pulls tfgen dependencies at pseudo-versions the proxy refuses;
# the next commit's go.mod/go.sum (bridge v3.137.0, only served tags) build the same provider/
RANDOM_GOMOD_COMMIT=f64d8726a4f5edf2c675e03a53cdf740fb542f47
LANGHOST_TAG=v3.259.0  # newest pulumi/pulumi tag in the sources here; the host's protocol is stable
RECIPE=2               # bump when a change below changes what is built

CACHE=${WPFLEET_ENGINE_CACHE:-/var/cache/wpfleet-engine}
KEY="cli-$CLI_VERSION.docker-$DOCKER_VERSION.command-$COMMAND_VERSION.random-$RANDOM_VERSION.r$RECIPE"
OUT="$CACHE/$KEY"
PLUGINS=(docker:$DOCKER_VERSION command:$COMMAND_VERSION random:$RANDOM_VERSION)

log() { printf 'engine: %s\n' "$*" >&2; }
missing() { printf 'engine/build.sh: %s\n' "$*"; exit 3; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }  # the wall clock can jump here

usable() {  # $1 = directory: the CLI runs and every plugin is an executable file
    [ -x "$1/pulumi" ] && "$1/pulumi" version >/dev/null 2>&1 || return 1
    local p; for p in "${PLUGINS[@]}"; do [ -x "$1/pulumi-resource-${p%%:*}" ] || return 1; done
}

# 1. cache hit
if [ -f "$OUT/.complete" ] && usable "$OUT"; then
    log "cache hit: $KEY"
    echo "$OUT"; exit 0
fi

# --- 2. build from sources -----------------------------------------------------------------
gitdir_with() {  # $1 = owner+name, $2 = commit-ish: a git dir below $WPFLEET_ENGINE_SRC/$1 that has it
    local base="${WPFLEET_ENGINE_SRC:-}/$1" d
    [ -n "${WPFLEET_ENGINE_SRC:-}" ] && [ -d "$base" ] || return 1
    while IFS= read -r d; do
        d=$(dirname "$d")
        if git --git-dir="$d" rev-parse -q --verify "$2^{commit}" >/dev/null 2>&1; then
            echo "$d"; return 0
        fi
    done < <(find "$base" -maxdepth 5 -name HEAD -type f 2>/dev/null | sort)
    return 1
}

export_tree() {  # $1 = owner+name, $2 = commit-ish, $3 = destination, $4... = paths
    local gd; gd=$(gitdir_with "$1" "$2") || return 1
    rm -rf "$3"; mkdir -p "$3"
    # through a private index: a snapshot may lack its largest blobs (test data), which
    # `git archive` cannot skip; those files are left out
    local idx; idx=$(mktemp)
    GIT_INDEX_FILE=$idx git --git-dir="$gd" read-tree "$2"
    local -a skip; mapfile -t skip < <(absent_blobs "$gd" "$2" "${@:4}")
    if [ ${#skip[@]} != 0 ]; then
        log "$1: leaving out ${#skip[@]} file(s) absent from the snapshot"
        GIT_INDEX_FILE=$idx git --git-dir="$gd" update-index --force-remove -- "${skip[@]}"
    fi
    GIT_INDEX_FILE=$idx git --git-dir="$gd" ls-files -z -- "${@:4}" \
        | GIT_INDEX_FILE=$idx git --git-dir="$gd" --work-tree="$3" checkout-index -z --stdin --prefix="$3/"
    rm -f "$idx"
}

absent_blobs() {  # $1 = git dir, $2 = commit-ish, $3... = paths: files whose blob is missing
    python3 - "$@" <<'PY'
import subprocess, sys
gd, rev, *paths = sys.argv[1:]
git = ["git", "--git-dir", gd]
tree = subprocess.run([*git, "ls-tree", "-r", "-z", rev, "--", *paths], check=True,
                      capture_output=True).stdout.split(b"\0")
blobs = [(m.split()[2], path) for m, _, path in (e.partition(b"\t") for e in tree if e)
         if m.split()[1] == b"blob"]
check = subprocess.run([*git, "cat-file", "--batch-check"], check=True, capture_output=True,
                       input=b"".join(sha + b"\n" for sha, _ in blobs)).stdout.splitlines()
for (sha, path), line in zip(blobs, check):
    if line.endswith(b" missing"):
        print(path.decode())
PY
}

schema_embed() {  # $1 = schema.json, $2 = version: the gitignored schema-embed.json the binary embeds
    python3 - "$1" "$2" <<'PY'
import json, sys, pathlib
src = pathlib.Path(sys.argv[1])
spec = json.loads(src.read_text())
spec["version"] = sys.argv[2]
(src.parent / "schema-embed.json").write_text(json.dumps(spec))
PY
}

gobuild() {  # $1 = module dir, $2 = output, $3 = main package, $4 = ldflags, $5.. = extra args
    (cd "$1" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -trimpath \
        -ldflags "-s -w $4" -o "$2" "${@:5}" "$3")
}

have_sources() {
    command -v go >/dev/null || { MISSING="no go to build with"; return 1; }
    local need=(pulumi+pulumi-docker:v$DOCKER_VERSION kreuzwerker+terraform-provider-docker:$DOCKER_UPSTREAM
                pulumi+pulumi-command:v$COMMAND_VERSION pulumi+pulumi-random:v$RANDOM_VERSION
                pulumi+pulumi-random:$RANDOM_GOMOD_COMMIT) n
    for n in "${need[@]}"; do
        gitdir_with "${n%%:*}" "${n#*:}" >/dev/null \
            || { MISSING="no source of ${n%%:*} at ${n#*:} below WPFLEET_ENGINE_SRC=${WPFLEET_ENGINE_SRC:-(unset)}"; return 1; }
    done
}

build_from_sources() {  # runs in its own bash (--build) so that `set -e` holds throughout
    local W="$CACHE/work" T0; T0=$(uptime_s)
    mkdir -p "$W" "$OUT.part"

    log "CLI v$CLI_VERSION from its Go module"
    mkdir -p "$W/cli"
    cat > "$W/cli/go.mod" <<EOF
module local.build/pulumi-cli

go 1.25.11

tool github.com/pulumi/pulumi/pkg/v3/cmd/pulumi

require (
	github.com/pulumi/pulumi/pkg/v3 v$CLI_VERSION
	github.com/pulumi/pulumi/sdk/v3 v$CLI_VERSION
)
EOF
    (cd "$W/cli" && GOTOOLCHAIN=local go mod tidy >/dev/null 2>&1)
    gobuild "$W/cli" "$OUT.part/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
        "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$CLI_VERSION" \
        -tags osusergo,grpcnotrace

    log "pulumi-resource-command v$COMMAND_VERSION"
    export_tree pulumi+pulumi-command "v$COMMAND_VERSION" "$W/command" provider
    gobuild "$W/command/provider" "$OUT.part/pulumi-resource-command" ./cmd/pulumi-resource-command \
        "-X github.com/pulumi/pulumi-command/provider/pkg/version.Version=v$COMMAND_VERSION"

    log "pulumi-resource-random v$RANDOM_VERSION"
    export_tree pulumi+pulumi-random "v$RANDOM_VERSION" "$W/random" provider
    local gd; gd=$(gitdir_with pulumi+pulumi-random "$RANDOM_GOMOD_COMMIT")
    for f in go.mod go.sum; do
        git --git-dir="$gd" show "$RANDOM_GOMOD_COMMIT:provider/$f" > "$W/random/provider/$f"
    done
    schema_embed "$W/random/provider/cmd/pulumi-resource-random/schema.json" "$RANDOM_VERSION"
    gobuild "$W/random/provider" "$OUT.part/pulumi-resource-random" ./cmd/pulumi-resource-random \
        "-X github.com/pulumi/pulumi-random/provider/v4/pkg/version.Version=$RANDOM_VERSION"

    log "pulumi-resource-docker v$DOCKER_VERSION (upstream kreuzwerker ${DOCKER_UPSTREAM:0:8} + patches)"
    export_tree pulumi+pulumi-docker "v$DOCKER_VERSION" "$W/docker" provider patches
    export_tree kreuzwerker+terraform-provider-docker "$DOCKER_UPSTREAM" "$W/docker/upstream"
    local p; for p in "$W"/docker/patches/*.patch; do
        (cd "$W/docker/upstream" && patch -s -p1 < "$p")
    done
    schema_embed "$W/docker/provider/cmd/pulumi-resource-docker/schema.json" "$DOCKER_VERSION"
    gobuild "$W/docker/provider" "$OUT.part/pulumi-resource-docker" ./cmd/pulumi-resource-docker \
        "-X github.com/pulumi/pulumi-docker/provider/v5/pkg/version.Version=$DOCKER_VERSION" \
        -tags no_compose

    build_language_host "$W" || log "no Python language host (${LANGHOST_WHY:-?}): tests use the Automation API"

    printf '%s\n' "cli=$CLI_VERSION" "docker=$DOCKER_VERSION" "command=$COMMAND_VERSION" \
        "random=$RANDOM_VERSION" "python-language-host=${LANGHOST_BUILT:-none}" > "$OUT.part/versions"
    rm -rf "$OUT"; mv "$OUT.part" "$OUT"; touch "$OUT/.complete"
    log "built in $(python3 -c "print(round($(uptime_s) - $T0))") s"
}

build_language_host() {  # optional: `pulumi preview/up` in the project folder need it
    local W="$1"
    export_tree pulumi+pulumi "$LANGHOST_TAG" "$W/pulumi" sdk pkg 2>/dev/null \
        || { LANGHOST_WHY="no pulumi+pulumi source at $LANGHOST_TAG"; return 1; }
    log "pulumi-language-python from pulumi/pulumi $LANGHOST_TAG"
    gobuild "$W/pulumi/sdk/python/cmd/pulumi-language-python" "$OUT.part/pulumi-language-python" . \
        "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$LANGHOST_TAG" \
        >"$W/langhost.log" 2>&1 || { LANGHOST_WHY="build failed: $W/langhost.log"; return 1; }
    install -m 0755 "$W/pulumi/sdk/python/cmd/pulumi-language-python-exec" "$OUT.part/"
    LANGHOST_BUILT=$LANGHOST_TAG
}

# --- 3. an installed Pulumi ----------------------------------------------------------------
from_installed() {
    command -v pulumi >/dev/null || { MISSING="no pulumi on PATH"; return 1; }
    local listing dir p name ver bin; listing=$(pulumi plugin ls 2>/dev/null) || return 1
    dir="$CACHE/installed"; rm -rf "$dir"; mkdir -p "$dir"
    ln -s "$(command -v pulumi)" "$dir/pulumi"
    for p in "${PLUGINS[@]}"; do
        name=${p%%:*} ver=${p#*:}
        grep -Eq "^$name +resource +$ver( |$)" <<<"$listing" || { MISSING="pulumi has no plugin $name $ver (pulumi plugin install resource $name $ver)"; return 1; }
        bin=$(ls "${PULUMI_HOME:-$HOME/.pulumi}"/plugins/resource-"$name"-v"$ver"/pulumi-resource-"$name" 2>/dev/null) \
            || { MISSING="no binary of plugin resource-$name-v$ver"; return 1; }
        ln -s "$bin" "$dir/pulumi-resource-$name"
    done
    OUT="$dir"
}

if [ "${1:-}" = --build ]; then build_from_sources; exit 0; fi

MISSING=""
mkdir -p "$CACHE" 2>/dev/null || true
if [ ! -w "$CACHE" ]; then
    MISSING="no writable cache directory $CACHE (set WPFLEET_ENGINE_CACHE)"
elif have_sources; then
    if bash "$0" --build; then echo "$OUT"; exit 0; fi
    rm -rf "$OUT.part"
    MISSING="the build from sources failed (messages above)"
fi
SOURCES_MISSING=$MISSING
if from_installed && usable "$OUT"; then
    log "using the installed pulumi"
    echo "$OUT"; exit 0
fi
missing "no engine: $SOURCES_MISSING; $MISSING"
