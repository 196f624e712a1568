#!/usr/bin/env bash
# gridengine-start.sh — install, configure and start a one-host Son of Grid Engine
# 8.1.9 cluster from Debian 12 packages (gridengine-master/-exec/-client/-common)
# on a machine without systemd. Run as root. Idempotent: safe to run again; an
# already-running qmaster/execd is kept, configuration is re-applied.
#
#   bash gridengine-start.sh            # install + configure + start (bounded: ~10 min max)
#   bash gridengine-stop.sh                   # delete all jobs, stop execd + qmaster by PID
#
# Tunables (environment): SGE_SLOTS (queue slots, default 4), SGE_INSTALL_TIMEOUT
# (seconds for apt-get, default 480).
set -euo pipefail

export SGE_ROOT=/var/lib/gridengine
export SGE_CELL=default
SLOTS="${SGE_SLOTS:-4}"
INSTALL_TIMEOUT="${SGE_INSTALL_TIMEOUT:-480}"
SPOOL=/var/spool/gridengine
COMMON="$SGE_ROOT/$SGE_CELL/common"
QMASTER_PIDFILE="$SPOOL/qmaster/qmaster.pid"
LOGDIR="$SPOOL"              # daemon stdout/stderr land in $SPOOL/*.out
CFG=$(mktemp -d /tmp/sge-cfg.XXXXXX)
trap 'rm -rf "$CFG"' EXIT

log() { printf '[sge-single-node] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
T0=$(date +%s)

# ---------------------------------------------------------------- hostname
HOST=$(hostname)
if ! getent hosts "$HOST" >/dev/null; then
  log "hostname $HOST does not resolve; appending '127.0.0.1 $HOST' to /etc/hosts"
  echo "127.0.0.1 $HOST" >> /etc/hosts
fi
HOST_IP=$(getent hosts "$HOST" | awk 'NR==1{print $1}')
REV_NAME=$(getent hosts "$HOST_IP" | awk 'NR==1{print $2}')
log "host=$HOST ip=$HOST_IP reverse=$REV_NAME"

# ---------------------------------------------------------------- packages
PKGS="gridengine-common gridengine-client gridengine-master gridengine-exec"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  log "installing:$missing"
  # Debconf answers (questions are shared/* templates owned by all gridengine packages).
  for owner in gridengine-common gridengine-master gridengine-client gridengine-exec; do
    printf '%s shared/gridengineconfig boolean true\n%s shared/gridenginecell string %s\n%s shared/gridenginemaster string %s\n' \
      "$owner" "$owner" "$SGE_CELL" "$owner" "$HOST"
  done | debconf-set-selections
  if ! apt-cache policy gridengine-master 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    timeout 300 apt-get update -q >&2
  fi
  # policy-rc.d (exit 101) in containers keeps postinst from starting daemons; fine.
  timeout "$INSTALL_TIMEOUT" env DEBIAN_FRONTEND=noninteractive \
    apt-get -o DPkg::Lock::Timeout=120 install -y -q --no-install-recommends $PKGS >&2 \
    || die "apt-get install failed"
fi

# Cluster spool (normally created by gridengine-master postinst; redo if missing).
if [ ! -e "$SPOOL/spooldb/sge" ]; then
  log "initialising cluster spool"
  install -d -o sgeadmin -g sgeadmin "$SPOOL/qmaster" "$SPOOL/qmaster/job_scripts" "$SPOOL/spooldb" "$SPOOL/execd" "$COMMON"
  [ -e "$COMMON/bootstrap" ] || install -m0644 -o sgeadmin -g sgeadmin /usr/share/gridengine/default-bootstrap "$COMMON/bootstrap"
  su -s /bin/sh -c "/usr/share/gridengine/scripts/init_cluster $SGE_ROOT $SGE_CELL $SPOOL/spooldb sgeadmin" sgeadmin >&2
fi
install -d -o sgeadmin -g sgeadmin "$SPOOL/execd"
echo "$HOST" > "$COMMON/act_qmaster"; chown sgeadmin:sgeadmin "$COMMON/act_qmaster"
# SGE checks that a client's IP reverse-resolves to the name it claims. Here the
# hostname maps to 127.0.0.1, which reverse-resolves to "localhost" ("access denied
# (client IP resolved to host name "localhost" ...)"). host_aliases fixes that
# without touching /etc/hosts. Must exist before the daemons start.
if [ -n "$REV_NAME" ] && [ "$REV_NAME" != "$HOST" ]; then
  echo "$HOST $REV_NAME" > "$COMMON/host_aliases"
else
  rm -f "$COMMON/host_aliases"
fi
[ -e "$COMMON/host_aliases" ] && chown sgeadmin:sgeadmin "$COMMON/host_aliases"

# ---------------------------------------------------------------- daemons
pid_alive() {  # pid_alive PIDFILE COMM
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat /proc/$pid/comm)" = "$2" ]
}
wait_for() {  # wait_for SECONDS CMD...  (polls every 0.5 s)
  local end=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.5
  done
}
qm_up() { timeout 10 qconf -sh; }

if pid_alive "$QMASTER_PIDFILE" sge_qmaster; then
  log "sge_qmaster already running (pid $(cat $QMASTER_PIDFILE))"
else
  rm -f "$QMASTER_PIDFILE"
  log "starting sge_qmaster"
  # setsid + redirections: the daemon must not hold the caller's terminal/pipes.
  setsid /usr/sbin/sge_qmaster </dev/null >>"$LOGDIR/qmaster.out" 2>&1 || die "sge_qmaster failed (see $SPOOL/qmaster/messages)"
fi
wait_for 60 qm_up || die "qmaster not answering after 60 s (see $SPOOL/qmaster/messages)"

# ---------------------------------------------------------------- configuration
# Global config: allow root's jobs (min_uid/min_gid 1000 by default), write accounting
# records at once so qacct sees a job as soon as it leaves qstat.
qconf -sconf global > "$CFG/global"
sed -i -e 's/^min_uid .*/min_uid                      0/' \
       -e 's/^min_gid .*/min_gid                      0/' "$CFG/global"
# reporting_params may span continuation lines: drop them and write one line.
awk 'BEGIN{skip=0} /^reporting_params/{skip=1; next} skip && /^[ \t]/{next} {skip=0; print}' "$CFG/global" > "$CFG/global.new"
echo "reporting_params             accounting=true reporting=false flush_time=00:00:01 accounting_flush_time=00:00:00 joblog=false sharelog=00:00:00" >> "$CFG/global.new"
mv "$CFG/global.new" "$CFG/global"
qconf -Mconf "$CFG/global" >&2

# Scheduler: run every second and right after submit/finish; no load adjustments.
qconf -ssconf > "$CFG/sconf"
sed -i -e 's/^schedule_interval .*/schedule_interval                 0:0:1/' \
       -e 's/^flush_submit_sec .*/flush_submit_sec                  1/' \
       -e 's/^flush_finish_sec .*/flush_finish_sec                  1/' \
       -e 's/^job_load_adjustments .*/job_load_adjustments              NONE/' \
       -e 's/^load_adjustment_decay_time .*/load_adjustment_decay_time        0:0:0/' "$CFG/sconf"
qconf -Msconf "$CFG/sconf" >&2

qconf -sh | grep -qx "$HOST" || qconf -ah "$HOST" >&2
qconf -ss | grep -qx "$HOST" || qconf -as "$HOST" >&2
if ! qconf -sel 2>/dev/null | grep -qx "$HOST"; then
  printf 'hostname %s\nload_scaling NONE\ncomplex_values NONE\nuser_lists NONE\nxuser_lists NONE\nprojects NONE\nxprojects NONE\nusage_scaling NONE\nreport_variables NONE\n' "$HOST" > "$CFG/exechost"
  qconf -Ae "$CFG/exechost" >&2
fi

printf 'group_name @allhosts\nhostlist %s\n' "$HOST" > "$CFG/allhosts"
if qconf -shgrp @allhosts >/dev/null 2>&1; then qconf -Mhgrp "$CFG/allhosts" >&2; else qconf -Ahgrp "$CFG/allhosts" >&2; fi

cat > "$CFG/smp" <<'EOF'
pe_name            smp
slots              999
user_lists         NONE
xuser_lists        NONE
start_proc_args    NONE
stop_proc_args     NONE
allocation_rule    $pe_slots
control_slaves     FALSE
job_is_first_task  TRUE
urgency_slots      min
accounting_summary FALSE
qsort_args         NONE
EOF
if qconf -sp smp >/dev/null 2>&1; then qconf -Mp "$CFG/smp" >&2; else qconf -Ap "$CFG/smp" >&2; fi

# Queue all.q from the built-in template; load_thresholds NONE so a busy CI box
# never puts the queue into alarm state.
qconf -sq | sed -e 's/^qname .*/qname                 all.q/' \
                -e 's/^hostlist .*/hostlist              @allhosts/' \
                -e 's/^load_thresholds .*/load_thresholds       NONE/' \
                -e 's/^pe_list .*/pe_list               smp/' \
                -e "s/^slots .*/slots                 $SLOTS/" > "$CFG/allq"
if qconf -sq all.q >/dev/null 2>&1; then qconf -Mq "$CFG/allq" >&2; else qconf -Aq "$CFG/allq" >&2; fi

# ---------------------------------------------------------------- execd
execd_pidfile() { ls "$SPOOL"/execd/*/execd.pid 2>/dev/null | head -n1; }
EPF=$(execd_pidfile || true)
if [ -n "$EPF" ] && pid_alive "$EPF" sge_execd; then
  log "sge_execd already running (pid $(cat "$EPF"))"
else
  [ -n "$EPF" ] && rm -f "$EPF"
  log "starting sge_execd"
  setsid /usr/sbin/sge_execd </dev/null >>"$LOGDIR/execd.out" 2>&1 || die "sge_execd failed"
fi
queue_ok() {  # queue instance exists and has no state flags (u = execd unknown, a = alarm, ...)
  qstat -f -q "all.q@$HOST" 2>/dev/null | awk -v q="all.q@$HOST" '$1==q{found=1; st=$6} END{exit !(found && st=="")}'
}
wait_for 60 queue_ok || { qstat -f >&2 || true; die "queue all.q@$HOST not ready after 60 s (see $SPOOL/execd/*/messages)"; }
# A queue left in error/disabled state by an earlier run: clear it.
qmod -c "all.q@$HOST" >/dev/null 2>&1 || true
qmod -e "all.q@$HOST" >/dev/null 2>&1 || true

EPF=$(execd_pidfile)
log "ready in $(( $(date +%s) - T0 )) s: qmaster pid $(cat "$QMASTER_PIDFILE"), execd pid $(cat "$EPF")"
cat <<EOF
# Grid Engine 8.1.9 single-node cluster is up on host $HOST (queue all.q, $SLOTS slots, PE smp).
# The /usr/bin/q* wrappers read /etc/default/gridengine, so these are only hints:
export SGE_ROOT=$SGE_ROOT
export SGE_CELL=$SGE_CELL
# Usage:
#   qsub -terse -b y -o /tmp/out -e /tmp/err /bin/sleep 2   -> prints job id
#   echo 'echo hi' | qsub -terse -cwd -j y -o out.txt     -> script job from stdin
#   qstat [-xml] ; qstat -j ID [-xml] ; qdel ID ; qacct -j ID (exit_status, failed)
#   qsub -pe smp 2 ...                                      -> 2 slots on this host
# Logs: $SPOOL/qmaster/messages, $(dirname "$EPF")/messages; accounting: $COMMON/accounting
# Stop: bash $(cd "$(dirname "$0")" && pwd)/gridengine-stop.sh
EOF
