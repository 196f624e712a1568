#!/usr/bin/env bash
# deploy-deps.sh — what `npm run test:deploy` and the README's deployment section need
# on this machine kind (Debian, root): Docker's engine (docker.io) running, Debian's
# Compose v2 (`docker compose`), and the images' Debian base (docker/base-image.sh, by
# debootstrap where no registry answers). Idempotent; a second run takes a second.
#
# Debian bookworm has only Compose v1 (`docker-compose`, Python); trixie's
# docker-compose package is Compose v2 (Go, needs only libc6), so on bookworm that one
# package is fetched from the trixie suite through apt (signatures checked with Debian's
# archive keyring) and installed from its file.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[deploy-deps] %s\n' "$*" >&2; }
root() { [ "$(id -u)" = 0 ] || { log "not root: install $* yourself"; exit 1; }; }
apt_install() {
  root "$@"
  apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [0-9]' || apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2
}

command -v dockerd >/dev/null 2>&1 || apt_install docker.io
command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
docker info >/dev/null 2>&1 || { root dockerd; scripts/start-dockerd.sh; }

if ! docker compose version >/dev/null 2>&1; then
  root docker-compose
  if apt-cache policy docker-compose 2>/dev/null | grep -q 'Candidate: 2\.'; then
    apt_install docker-compose
  else
    suite=${WPS_COMPOSE_SUITE:-trixie}
    log "Compose v2: Debian's docker-compose from $suite"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    chmod 755 "$tmp"   # apt fetches as _apt
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${DEBIAN_MIRROR:-http://deb.debian.org/debian} $suite main" > "$tmp/sources.list"
    mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial"
    aptq=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o Dir::Etc::Preferences=/dev/null)
    apt-get "${aptq[@]}" update -q >&2
    (cd "$tmp" && apt-get "${aptq[@]}" download docker-compose >&2)
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$tmp"/docker-compose_*.deb >&2
  fi
  docker compose version >/dev/null 2>&1 || { log "docker compose does not answer"; exit 1; }
fi

docker/base-image.sh
