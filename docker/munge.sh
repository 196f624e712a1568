# munge.sh — sourced by the entrypoints that talk to Slurm: the cluster's one munge key
# (made by the controller on first start, on the munge-key volume) installed for this
# container's munge account, and munged started. Needs root.
MUNGE_SHARED=${MUNGE_SHARED:-/etc/munge-shared}

start_munged() {
  [ -s "$MUNGE_SHARED/munge.key" ] || return 1
  install -o munge -g munge -m 0400 "$MUNGE_SHARED/munge.key" /etc/munge/munge.key
  install -d -o munge -g munge -m 0755 /run/munge
  rm -f /run/munge/munged.pid /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
  setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged
  for _ in $(seq 100); do
    munge -n </dev/null | unmunge >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "munged did not start" >&2
  return 1
}

# Waits until the controller has written the key (first start of the stack).
wait_for_munge_key() {
  for _ in $(seq 300); do
    [ -s "$MUNGE_SHARED/munge.key" ] && return 0
    sleep 0.5
  done
  echo "no munge key in $MUNGE_SHARED" >&2
  return 1
}
