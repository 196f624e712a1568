#!/bin/sh
# A GridEngine execution node for the compose deployment: sge_execd, with this install
# for the jobs (they run `node /app/dist/src/cli/main.js job run DIR` as their owner).
set -eu
. /usr/local/lib/wps/announce.sh
announce_to_qmaster exec
install -d -o wps -g wps /data/jobs /data/outputs
install -d -o sgeadmin -g sgeadmin /var/spool/gridengine/execd
exec env SGE_ND=true /usr/sbin/sge_execd
