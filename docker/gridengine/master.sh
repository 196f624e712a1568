#!/bin/sh
# GridEngine master for docker-compose: the single-node recipe of
# scripts/schedulers/gridengine-start.sh, split so that the execution host is the
# sge-exec service. The cell's common directory is a volume the server and the exec
# node mount, so they find the qmaster (act_qmaster) without further setup.
set -eu
SPOOL=/var/spool/gridengine
COMMON=$SGE_ROOT/$SGE_CELL/common
EXEC_HOST=${SGE_EXEC_HOST:-sge-exec}
SLOTS=${SGE_SLOTS:-4}
if [ ! -e "$SPOOL/spooldb/sge" ]; then
  install -d -o sgeadmin -g sgeadmin "$SPOOL/qmaster" "$SPOOL/qmaster/job_scripts" "$SPOOL/spooldb" "$COMMON"
  [ -e "$COMMON/bootstrap" ] || install -m0644 -o sgeadmin -g sgeadmin /usr/share/gridengine/default-bootstrap "$COMMON/bootstrap"
  su -s /bin/sh -c "/usr/share/gridengine/scripts/init_cluster $SGE_ROOT $SGE_CELL $SPOOL/spooldb sgeadmin" sgeadmin
fi
hostname > "$COMMON/act_qmaster"
SGE_ND=true /usr/sbin/sge_qmaster &
until qconf -sh >/dev/null 2>&1; do sleep 1; done
CFG=$(mktemp -d)
qconf -sconf global | sed -e 's/^min_uid .*/min_uid 0/' -e 's/^min_gid .*/min_gid 0/' > "$CFG/global"
qconf -Mconf "$CFG/global"
qconf -ssconf | sed -e 's/^schedule_interval .*/schedule_interval 0:0:1/' > "$CFG/sconf"
qconf -Msconf "$CFG/sconf"
for h in "$(hostname)" wps; do qconf -as "$h" 2>/dev/null || true; done
qconf -ah "$EXEC_HOST" 2>/dev/null || true
printf 'group_name @allhosts\nhostlist %s\n' "$EXEC_HOST" > "$CFG/allhosts"
qconf -Ahgrp "$CFG/allhosts" 2>/dev/null || qconf -Mhgrp "$CFG/allhosts"
qconf -sq | sed -e 's/^qname .*/qname all.q/' -e 's/^hostlist .*/hostlist @allhosts/' \
  -e 's/^load_thresholds .*/load_thresholds NONE/' -e "s/^slots .*/slots $SLOTS/" > "$CFG/allq"
qconf -Aq "$CFG/allq" 2>/dev/null || qconf -Mq "$CFG/allq"
wait
