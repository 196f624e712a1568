#!/usr/bin/env bash
# test-deps.sh — what `npm test` needs besides node_modules, made present on this
# machine kind (Debian, root): the packages the tests drive (xmllint, OWSLib, PyWPS with
# gunicorn, tmux, wrk, Chromium, cwltool, GDAL, CDO, Docker and rootless Podman (for the
# user wps-podman) with a busybox image, Jupyter Notebook, Xpra and nginx), Postgres
# and Redis running, GridEngine, Slurm and the test sshd
# (scripts/schedulers/start.sh). Idempotent; a second run takes a few seconds.
# Without root it only says what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[test-deps] %s\n' "$*" >&2; }

need=""
command -v xmllint >/dev/null 2>&1 || need="$need libxml2-utils"
/usr/bin/python3 -c 'import owslib' >/dev/null 2>&1 || need="$need python3-owslib"
/usr/bin/python3 -c 'import pywps' >/dev/null 2>&1 || need="$need python3-pywps"
[ -x /usr/bin/gunicorn ] || need="$need gunicorn"
command -v tmux >/dev/null 2>&1 || need="$need tmux"
command -v wrk >/dev/null 2>&1 || need="$need wrk"
# The browser tests drive Debian's Chromium through playwright-core (never a downloaded browser).
[ -x /usr/bin/chromium ] || need="$need chromium"
# CWL processes run under cwltool; the tests' tools are GDAL's and CDO's.
command -v cwltool >/dev/null 2>&1 || need="$need cwltool"
command -v gdal_translate >/dev/null 2>&1 || need="$need gdal-bin"
command -v cdo >/dev/null 2>&1 || need="$need cdo"
# A CWL tool's DockerRequirement runs under Docker, and under rootless Podman for a service
# account, in a busybox image made here (no registry is reached).
command -v dockerd >/dev/null 2>&1 || need="$need docker.io"
command -v podman >/dev/null 2>&1 || need="$need podman"
command -v newuidmap >/dev/null 2>&1 || need="$need uidmap"
dpkg -s busybox-static >/dev/null 2>&1 || need="$need busybox-static"
# Batch jobs submitted as their owner's account (scheduler.runAsUser) go through sudo.
command -v sudo >/dev/null 2>&1 || need="$need sudo"
# Interactive sessions: Jupyter Notebook and Xpra (with its HTML5 client) as the applications,
# Xvfb for Xpra's display, nginx as the websocket proxy the session benchmark compares with.
command -v jupyter-notebook >/dev/null 2>&1 || need="$need jupyter-notebook python3-ipykernel"
command -v xpra >/dev/null 2>&1 || need="$need xpra xvfb"
# Xpra draws window icons with Pillow, only a Recommends of its package.
/usr/bin/python3 -c "import PIL" >/dev/null 2>&1 || need="$need python3-pil"
command -v nginx >/dev/null 2>&1 || need="$need nginx-light"

if [ "$(id -u)" != 0 ]; then
  [ -z "$need" ] || log "missing packages (install them as root):$need"
  exit 0
fi
if [ -n "$need" ]; then
  log "installing:$need"
  if ! apt-cache policy libxml2-utils 2>/dev/null | grep -q 'Candidate: [0-9]'; then timeout 300 apt-get update -q >&2; fi
  timeout 600 env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -q --no-install-recommends $need >&2
fi

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi

scripts/start-dockerd.sh
# The test image: busybox and a few of its links, readable by any user (a rootless
# container runs as its caller's id).
image=localhost/wps-test-busybox:latest
busybox_tar() {
  local root
  root=$(mktemp -d)
  chmod 755 "$root"
  mkdir -p "$root/bin"
  cp /bin/busybox "$root/bin/busybox"
  for c in sh ls cat echo printf wc; do ln -s busybox "$root/bin/$c"; done
  tar -C "$root" -c .
  rm -rf "$root"
}
if ! docker image inspect "$image" >/dev/null 2>&1; then
  busybox_tar | docker import - "$image" >/dev/null
fi
# Rootless Podman: the way a server running as a service account runs containers (Debian
# bookworm's cwltool passes --userns=keep-id, which its Podman allows only rootless).
podman_user=wps-podman
podman_home=/var/lib/wps-test-podman
if ! id "$podman_user" >/dev/null 2>&1; then
  useradd --system --home-dir "$podman_home" --create-home --shell /usr/sbin/nologin "$podman_user"
fi
for f in /etc/subuid /etc/subgid; do
  grep -q "^$podman_user:" "$f" 2>/dev/null || echo "$podman_user:300000:65536" >>"$f"
done
as_podman_user() { (cd / && runuser -u "$podman_user" -- env HOME="$podman_home" "$@"); }
if ! as_podman_user podman image exists "$image" 2>/dev/null; then
  busybox_tar | as_podman_user podman import - "$image" >/dev/null
fi

# A user's own Unix account, for jobs that run as their owner (scheduler.runAsUser).
id wpsalice >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin wpsalice

scripts/schedulers/start.sh
