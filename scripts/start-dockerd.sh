#!/bin/sh
# start-dockerd.sh — Docker's daemon running (root; docker.io installed): started in the
# background if `docker info` does not answer, then waited for. Used by test-deps.sh and
# deploy-deps.sh.
set -eu
docker info >/dev/null 2>&1 && exit 0
echo "[start-dockerd] starting dockerd (log: /var/log/wps-dockerd.log)" >&2
(dockerd >/var/log/wps-dockerd.log 2>&1 &)
for _ in $(seq 120); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 0.5
done
echo "[start-dockerd] dockerd did not start (see /var/log/wps-dockerd.log)" >&2
exit 1
