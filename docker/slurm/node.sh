#!/bin/sh
# A Slurm compute node for the compose deployment: munged with the cluster's key and
# slurmd, with this install for the jobs (`node /app/dist/src/cli/main.js job run DIR`).
set -eu
install -d -o wps -g wps /data/jobs /data/outputs
. /usr/local/lib/wps/munge.sh
wait_for_munge_key
start_munged
install -d -o slurm -g slurm -m 0755 /run/slurm
install -d /var/lib/slurm/slurmd
exec slurmd -D -N "$(hostname)"
