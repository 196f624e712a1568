#!/bin/sh
# base-image.sh — makes the images' Debian base present: as it is if Docker has it, else
# pulled from a registry, else built here from Debian's mirror with debootstrap (minbase,
# slimmed the way Docker's official -slim images are) and `docker import`-ed under the
# same name. Idempotent; the first build takes a minute or two.
#
#   docker/base-image.sh [IMAGE]      IMAGE defaults to $WPS_BASE_IMAGE, else debian:trixie-slim
#
# DEBIAN_MIRROR (http://deb.debian.org/debian) is where debootstrap fetches from.
set -eu
image=${1:-${WPS_BASE_IMAGE:-debian:trixie-slim}}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
log() { printf '[base-image] %s\n' "$*" >&2; }

if docker image inspect "$image" >/dev/null 2>&1; then
  exit 0
fi
if timeout 60 docker pull -q "$image" >/dev/null 2>&1; then
  log "pulled $image"
  exit 0
fi
case "$image" in
  debian:*) ;;
  *) log "cannot pull $image, and only debian:<suite>[-slim] images can be made here"; exit 1 ;;
esac
suite=${image#debian:}
suite=${suite%-slim}
if ! command -v debootstrap >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || { log "debootstrap is missing (apt-get install debootstrap)"; exit 1; }
  log "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >&2
fi
root=$(mktemp -d /var/tmp/wps-base.XXXXXX)
trap 'rm -rf "$root" "$root.log"' EXIT
log "debootstrap $suite from $mirror (no registry answered for $image)"
if ! debootstrap --variant=minbase --components=main "$suite" "$root" "$mirror" >"$root.log" 2>&1; then
  tail -n 20 "$root.log" >&2
  exit 1
fi
rm -f "$root.log"
# The suite's updates and security fixes too, as Docker's images have them.
security=${DEBIAN_SECURITY_MIRROR:-${mirror%/debian}/debian-security}
rm -f "$root/etc/apt/sources.list"
cat > "$root/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
# What Docker's debian -slim images leave out, and keep out of later installs.
cat > "$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
CFG
cat > "$root/etc/apt/apt.conf.d/docker-slim" <<'CFG'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
CFG
# Services installed in an image are started by its entrypoint, never by a package script.
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
rm -rf "$root/usr/share/man/"* "$root/usr/share/info/"* "$root/var/lib/apt/lists/"* \
  "$root/var/cache/apt/"*.bin "$root/var/cache/apt/archives/"*.deb "$root/var/log/"*.log
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
tar -C "$root" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["bash"]' - "$image" >/dev/null
log "made $image ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
