#!/bin/sh
# GridEngine execution host for docker-compose, in the WPS image: jobs run this
# install's runner (`node dist/src/cli/main.js job run DIR`) with /data shared.
set -eu
COMMON=$SGE_ROOT/$SGE_CELL/common
until [ -s "$COMMON/act_qmaster" ]; do sleep 1; done
install -d -o sgeadmin -g sgeadmin /var/spool/gridengine/execd
exec env SGE_ND=true /usr/sbin/sge_execd
