# announce.sh — sourced: tells the GridEngine master this container's host name and
# address (ROLE: submit or exec) and waits until it has registered them (master.sh).
announce_to_qmaster() {
  common=$SGE_ROOT/$SGE_CELL/common
  name=$(hostname)
  until [ -d "$common/hosts/$1" ]; do sleep 0.5; done
  rm -f "$common/hosts/$name.ready"
  hostname -i | awk '{print $1}' > "$common/hosts/$1/$name"
  for _ in $(seq 120); do
    [ -e "$common/hosts/$name.ready" ] && return 0
    sleep 0.5
  done
  echo "the GridEngine master did not register $name" >&2
  return 1
}
