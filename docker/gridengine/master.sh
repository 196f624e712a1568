#!/bin/sh
# GridEngine's qmaster for the compose deployment. The cell's common directory is a
# volume the server and the execution nodes mount: they find the qmaster there
# (act_qmaster), share its accounting file (qacct), and announce themselves.
#
# GridEngine checks a host by the name its address resolves to, and Docker resolves a
# container's address to the container's name, not the host name it gives itself. So
# each host writes its address to hosts/submit/NAME or hosts/exec/NAME; this script keeps
# those names in the qmaster's /etc/hosts, registers them (submit host; execution host
# in @allhosts) and answers with hosts/NAME.ready.
set -eu
SPOOL=/var/spool/gridengine
COMMON=$SGE_ROOT/$SGE_CELL/common
SLOTS=${SGE_SLOTS:-4}
if [ ! -e "$SPOOL/spooldb/sge" ]; then
  install -d -o sgeadmin -g sgeadmin "$SPOOL/qmaster" "$SPOOL/qmaster/job_scripts" "$SPOOL/spooldb" "$COMMON"
  [ -e "$COMMON/bootstrap" ] || install -m0644 -o sgeadmin -g sgeadmin /usr/share/gridengine/default-bootstrap "$COMMON/bootstrap"
  setpriv --reuid=sgeadmin --regid=sgeadmin --init-groups \
    /usr/share/gridengine/scripts/init_cluster "$SGE_ROOT" "$SGE_CELL" "$SPOOL/spooldb" sgeadmin
fi
install -d -m 0755 "$COMMON/hosts" "$COMMON/hosts/submit" "$COMMON/hosts/exec"
rm -f "$COMMON/hosts/"*.ready
chown sgeadmin:sgeadmin "$COMMON"
hostname > "$COMMON/act_qmaster"
chown sgeadmin:sgeadmin "$COMMON/act_qmaster"
cp /etc/hosts /etc/hosts.docker
SGE_ND=true /usr/sbin/sge_qmaster &
qmaster=$!
until qconf -sh >/dev/null 2>&1; do
  kill -0 "$qmaster" 2>/dev/null || { echo "sge_qmaster exited" >&2; exit 1; }
  sleep 0.5
done
CFG=$(mktemp -d)
# Jobs never run as root or a system account (min_uid), are scheduled as they come, and
# are in the accounting file (qacct) a second after they end.
qconf -sconf global | sed -e ':join' -e '/\\$/{N;s/\\\n[[:space:]]*/ /;b join' -e '}' \
  -e 's/^min_uid .*/min_uid 1000/' -e 's/^min_gid .*/min_gid 1000/' \
  -e 's/^reporting_params .*/reporting_params accounting=true reporting=false flush_time=00:00:01 joblog=false sharelog=00:00:00/' > "$CFG/global"
qconf -Mconf "$CFG/global" >/dev/null
qconf -ssconf | sed -e 's/^schedule_interval .*/schedule_interval 0:0:1/' \
  -e 's/^job_load_adjustments .*/job_load_adjustments NONE/' \
  -e 's/^load_adjustment_decay_time .*/load_adjustment_decay_time 0:0:0/' > "$CFG/sconf"
qconf -Msconf "$CFG/sconf" >/dev/null
qconf -shgrp @allhosts >/dev/null 2>&1 || {
  printf 'group_name @allhosts\nhostlist NONE\n' > "$CFG/allhosts"
  qconf -Ahgrp "$CFG/allhosts" >/dev/null
}
# A process's cores are slots of the parallel environment smp (qsub -pe smp N).
printf '%s\n' 'pe_name smp' 'slots 999' 'user_lists NONE' 'xuser_lists NONE' 'start_proc_args NONE' \
  'stop_proc_args NONE' 'allocation_rule $pe_slots' 'control_slaves FALSE' 'job_is_first_task TRUE' \
  'urgency_slots min' 'accounting_summary FALSE' 'qsort_args NONE' > "$CFG/smp"
qconf -sp smp >/dev/null 2>&1 || qconf -Ap "$CFG/smp" >/dev/null
qconf -sq | sed -e 's/^qname .*/qname all.q/' -e 's/^hostlist .*/hostlist @allhosts/' \
  -e 's/^load_thresholds .*/load_thresholds NONE/' -e 's/^pe_list .*/pe_list smp/' \
  -e "s/^slots .*/slots $SLOTS/" > "$CFG/allq"
qconf -sq all.q >/dev/null 2>&1 || qconf -Aq "$CFG/allq" >/dev/null
rm -rf "$CFG"
echo "GridEngine qmaster ready on $(hostname)" >&2

# The hosts' announcements, kept up as containers come, restart and change address.
known=""
while kill -0 "$qmaster" 2>/dev/null; do
  entries=$(for f in "$COMMON"/hosts/submit/* "$COMMON"/hosts/exec/*; do
    [ -s "$f" ] && printf '%s %s\n' "$(cat "$f")" "${f##*/}"
  done | sort -u)
  if [ "$entries" != "$known" ]; then
    { cat /etc/hosts.docker; printf '%s\n' "$entries"; } > /etc/hosts.new
    cat /etc/hosts.new > /etc/hosts   # a bind mount: rewritten in place, never renamed over
    known=$entries
  fi
  for f in "$COMMON"/hosts/submit/* "$COMMON"/hosts/exec/*; do
    [ -s "$f" ] || continue
    name=${f##*/}
    [ -e "$COMMON/hosts/$name.ready" ] && continue
    qconf -as "$name" >/dev/null 2>&1 || true
    case "$f" in
      # The server reads queue limits (qconf -sq), which GridEngine tells admin hosts only.
      */submit/*) qconf -ah "$name" >/dev/null 2>&1 || true ;;
      */exec/*)
        if ! qconf -sel 2>/dev/null | grep -qx "$name"; then
          printf 'hostname %s\nload_scaling NONE\ncomplex_values NONE\nuser_lists NONE\nxuser_lists NONE\nprojects NONE\nxprojects NONE\nusage_scaling NONE\nreport_variables NONE\n' "$name" > /tmp/exechost
          qconf -Ae /tmp/exechost >/dev/null
        fi
        qconf -shgrp @allhosts | grep -qw "$name" || qconf -aattr hostgroup hostlist "$name" @allhosts >/dev/null
        ;;
    esac
    touch "$COMMON/hosts/$name.ready"
    echo "GridEngine host $name registered ($(cat "$f"))" >&2
  done
  sleep 1
done
wait "$qmaster"
