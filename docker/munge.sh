# munge.sh — sourced by the entrypoints that talk to Slurm: the cluster's one munge key
# (made by the controller on first start, on the munge-key volume) installed for this
# container's munge account, and munged started. Needs root.
. /usr/local/lib/wps/wait-for.sh
MUNGE_SHARED=${MUNGE_SHARED:-/etc/munge-shared}

munge_answers() { munge -n </dev/null | unmunge; }

start_munged() {
  install -o munge -g munge -m 0400 "$MUNGE_SHARED/munge.key" /etc/munge/munge.key
  install -d -o munge -g munge -m 0755 /run/munge
  # What a killed container left: munged refuses to start beside a stale socket lock.
  rm -f /run/munge/munged.pid /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
  setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged
  wait_for 10 "munged answering" munge_answers
}

# On a stack's first start the controller writes the key a moment after the others start.
wait_for_munge_key() {
  wait_for 150 "the cluster's munge key in $MUNGE_SHARED" test -s "$MUNGE_SHARED/munge.key"
}
