#!/bin/sh
# The server container's entrypoint (under tini), as root only for what needs it: the
# server announced to GridEngine's master as a submit host when the cell is mounted,
# munged for Slurm's commands when the cluster's munge key is; then the server as user
# wps, never root.
set -eu
install -d -o wps -g wps "${WPS_JOBS_DIR:-/data/jobs}" "${WPS_STORAGE_DIR:-/data/outputs}"
if [ -d "$SGE_ROOT/$SGE_CELL/common" ]; then
  . /usr/local/lib/wps/announce.sh
  announce_to_qmaster submit
fi
if [ -d /etc/munge-shared ]; then
  . /usr/local/lib/wps/munge.sh
  wait_for_munge_key
  start_munged
fi
exec setpriv --reuid=wps --regid=wps --init-groups --no-new-privs -- "$@"
