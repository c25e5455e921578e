#!/usr/bin/env bash
# `make compose-e2e`: the docker-compose deployment, run for real with podman (no Docker engine and no image
# registry needed):
#
#   1. tools: podman, debootstrap, docker-compose, catatonit (installed with apt-get when root and missing);
#   2. base images from Debian packages: a debootstrap root file system (cached in $CACHE_DIR), then the
#      stand-ins for python:3.11-slim-bookworm, postgres:17 and nginx (scripts/compose_e2e/*.Containerfile;
#      podman's layer cache makes them instant after the first run);
#   3. our image from the real Dockerfile, with the Python stand-in as BASE_IMAGE and this machine's pip
#      settings (index, CA bundle) given at build time only;
#   4. `podman system service` as the Docker-compatible socket for docker-compose and the DockerRunLauncher;
#   5. scripts/compose_e2e.py: the real docker-compose.yml up, the checks, down/up, and the teardown.
#
# Exit status 77 means "cannot run on this machine" (no podman and no way to install it, or podman cannot
# start a container here); the reason is printed. Environment:
#   COMPOSE_E2E_ALLOW_SKIP=1  exit 0 instead of 77 then (CI: .ci/run)
#   COMPOSE_E2E_CACHE   where the Debian root file system is kept (default ~/.cache/etl_project_compose_e2e)
#   COMPOSE_E2E_KEEP=1  leave the stack running after a failure, for a look (tear down with the printed command)
set -euo pipefail
# Everything in one function, read in full before it runs: editing this file during a run cannot derail it.
main() {
cd "$(dirname "$0")/.."
ROOT=$PWD
SKIP=77

CACHE_DIR=${COMPOSE_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/etl_project_compose_e2e}
SUITE=bookworm
DEBIAN_IMAGE=localhost/etl-e2e/debian:$SUITE
PYTHON_IMAGE=localhost/etl-e2e/python:$SUITE
POSTGRES_IMAGE=localhost/etl-e2e/postgres:$SUITE
PROXY_IMAGE=localhost/etl-e2e/nginx:$SUITE
ETL_IMAGE=localhost/etl_project:compose-e2e
S3_IMAGE=localhost/etl_project_s3:compose-e2e
export CONTAINERS_CONF=$ROOT/scripts/compose_e2e/containers.conf

started=$(date +%s)
step() { echo "=== [compose-e2e +$(($(date +%s) - started))s] $*"; }
skip() {
    echo "=== compose-e2e SKIPPED: cannot run on this machine: $* ==="
    [ "${COMPOSE_E2E_ALLOW_SKIP:-}" = 1 ] && exit 0
    exit $SKIP
}

# --- 1. tools -----------------------------------------------------------------------------------------
missing=()
command -v podman >/dev/null || missing+=(podman)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v docker-compose >/dev/null || missing+=(docker-compose)
[ -x /usr/bin/catatonit ] || missing+=(catatonit)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        skip "missing ${missing[*]}; installing needs root and apt-get (apt-get install ${missing[*]})"
    fi
    step "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    log=$(mktemp)
    if ! { apt-get install -y -qq "${missing[@]}" || { apt-get update -qq && apt-get install -y -qq "${missing[@]}"; }; } \
        >"$log" 2>&1; then
        tail -n 20 "$log"
        rm -f "$log"
        skip "could not install ${missing[*]} with apt-get"
    fi
    rm -f "$log"
fi
if [ "$(id -u)" != 0 ]; then
    # Rootless podman would need subuids and a user session; the checks here were made as root (as CI runs).
    skip "podman runs as root only on these machines; run as root (CI does)"
fi
# `init: true` through the Docker-compatible API: podman 4.3 ignores containers.conf's init_path there and
# wants /usr/libexec/podman/catatonit, which Debian's catatonit package does not provide.
if [ ! -e /usr/libexec/podman/catatonit ]; then
    mkdir -p /usr/libexec/podman
    ln -s /usr/bin/catatonit /usr/libexec/podman/catatonit
fi

WORK=$(mktemp -d /tmp/compose_e2e.XXXXXX)
SOCKET=$WORK/podman.sock
service_pid=
cleanup() {
    status=$?
    keep=
    # Kept for a look only when asked and something failed.
    [ "${COMPOSE_E2E_KEEP:-}" = 1 ] && [ "$status" != 0 ] && keep=1
    if [ -f "$WORK/stack-started" ] && [ -z "$keep" ]; then
        # Normally compose_e2e.py has already torn the stack down; this covers an interrupted run.
        DOCKER_HOST=unix://$SOCKET docker-compose -p etl_project_e2e -f "$ROOT/docker-compose.yml" \
            --env-file "$WORK/compose.env" down -v --remove-orphans -t 5 >/dev/null 2>&1 || true
    fi
    if [ -n "$service_pid" ] && [ -z "$keep" ]; then
        kill "$service_pid" 2>/dev/null || true
        wait "$service_pid" 2>/dev/null || true
    fi
    if [ -z "$keep" ]; then rm -rf "$WORK"; fi
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 2. base images -----------------------------------------------------------------------------------
if ! podman image exists "$DEBIAN_IMAGE"; then
    tarball=$CACHE_DIR/debian-$SUITE-minbase.tar
    if [ ! -s "$tarball" ]; then
        # The mirror apt already uses (deb822 sources of Debian 12, or a classic sources.list).
        mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
        [ -n "$mirror" ] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
        [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
        step "debootstrap --variant=minbase $SUITE (cached in $CACHE_DIR afterwards)"
        mkdir -p "$CACHE_DIR"
        rootfs=$CACHE_DIR/rootfs.tmp
        rm -rf "$rootfs"
        debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" >"$CACHE_DIR/debootstrap.log" 2>&1 ||
            { tail -n 20 "$CACHE_DIR/debootstrap.log"; echo "debootstrap failed"; exit 1; }
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
        tar -C "$rootfs" -cf "$tarball.tmp" .
        mv "$tarball.tmp" "$tarball"
        rm -rf "$rootfs"
    fi
    step "importing $DEBIAN_IMAGE"
    podman import -q "$tarball" "$DEBIAN_IMAGE" >/dev/null
fi
if ! podman run --rm "$DEBIAN_IMAGE" true >"$WORK/probe.log" 2>&1; then
    cat "$WORK/probe.log"
    skip "podman cannot start a container on this machine (see above)"
fi

step "stand-in images (python, postgres, nginx) from Debian packages"
for name in python postgres nginx; do
    podman build -q --build-arg DEBIAN_IMAGE="$DEBIAN_IMAGE" -f "scripts/compose_e2e/$name.Containerfile" \
        -t "localhost/etl-e2e/$name:$SUITE" scripts/compose_e2e >"$WORK/build-$name.log" 2>&1 ||
        { tail -n 30 "$WORK/build-$name.log"; echo "building the $name stand-in failed"; exit 1; }
done

# --- 3. our image -------------------------------------------------------------------------------------
# pip settings of this machine, at build time only: the index (read from pip's configuration, never
# written into the repository or the image), the CA bundle (mounted read-only for the build's RUN steps).
pip_args=()
pip_setting() { python3 -m pip config get "$1" 2>/dev/null || true; }
index_url=${PIP_INDEX_URL:-$(pip_setting global.index-url)}
[[ $index_url == http* ]] && pip_args+=(--build-arg "PIP_INDEX_URL=$index_url")
extra=()
for url in ${PIP_EXTRA_INDEX_URL:-$(pip_setting global.extra-index-url)}; do
    [[ $url == http* ]] && extra+=("$url") # file:// indexes are not visible inside the build
done
[ ${#extra[@]} -gt 0 ] && pip_args+=(--build-arg "PIP_EXTRA_INDEX_URL=${extra[*]}")
cert=${PIP_CERT:-$(pip_setting global.cert)}
if [ -n "$cert" ] && [ -f "$cert" ]; then
    pip_args+=(--build-arg "PIP_CERT=$cert" -v "$(dirname "$cert"):$(dirname "$cert"):ro")
fi
timeout=${PIP_DEFAULT_TIMEOUT:-$(pip_setting global.timeout)}
pip_args+=(--build-arg "PIP_DEFAULT_TIMEOUT=${timeout:-120}")
step "building $ETL_IMAGE from ./Dockerfile (BASE_IMAGE=$PYTHON_IMAGE)"
podman build -q --build-arg BASE_IMAGE="$PYTHON_IMAGE" "${pip_args[@]}" -f Dockerfile -t "$ETL_IMAGE" . \
    >"$WORK/build.log" 2>&1 || { tail -n 40 "$WORK/build.log"; echo "building $ETL_IMAGE failed"; exit 1; }
step "building $S3_IMAGE from deploy/s3/Containerfile (the bucket profile's store)"
podman build -q --build-arg BASE_IMAGE="$PYTHON_IMAGE" "${pip_args[@]}" -f deploy/s3/Containerfile -t "$S3_IMAGE" \
    deploy/s3 >"$WORK/build-s3.log" 2>&1 ||
    { tail -n 40 "$WORK/build-s3.log"; echo "building $S3_IMAGE failed"; exit 1; }

# --- 4. the Docker-compatible API ---------------------------------------------------------------------
step "podman system service on $SOCKET"
podman system service --time=0 "unix://$SOCKET" >"$WORK/podman-service.log" 2>&1 &
service_pid=$!
for _ in $(seq 50); do [ -S "$SOCKET" ] && break; sleep 0.2; done
[ -S "$SOCKET" ] || { cat "$WORK/podman-service.log"; echo "podman system service did not start"; exit 1; }
# As a Docker socket: owned by root's group, which the compose file hands to the daemon and the webserver
# (DOCKER_GID=0 below), not by everyone.
chmod 660 "$SOCKET"

# --- 5. the stack -------------------------------------------------------------------------------------
[ -x .venv/bin/python ] || make .venv/.installed >/dev/null
step "docker-compose.yml up and the checks (scripts/compose_e2e.py)"
.venv/bin/python -m scripts.compose_e2e --socket "$SOCKET" --work-dir "$WORK" --etl-image "$ETL_IMAGE" \
    --postgres-image "$POSTGRES_IMAGE" --proxy-image "$PROXY_IMAGE" --s3-image "$S3_IMAGE"
step "passed"
}
# On one line: bash has read the `exit` before main runs, so nothing after it is read from a changed file.
main "$@"; exit
