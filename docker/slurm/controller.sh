#!/bin/sh
# Slurm's controller for the compose deployment: the cluster's munge key (made on first
# start, on the volume the other Slurm hosts mount), munged, then slurmctld.
set -eu
. /usr/local/lib/wps/munge.sh
if [ ! -s "$MUNGE_SHARED/munge.key" ]; then
  mungekey --create --keyfile="$MUNGE_SHARED/munge.key.new"
  chmod 0400 "$MUNGE_SHARED/munge.key.new"
  mv "$MUNGE_SHARED/munge.key.new" "$MUNGE_SHARED/munge.key"
fi
start_munged
install -d -o slurm -g slurm -m 0755 /run/slurm /var/lib/slurm/slurmctld
exec slurmctld -D -i
