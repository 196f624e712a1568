# announce.sh — sourced: announce_to_qmaster ROLE tells the GridEngine master this
# container's host name and address (ROLE: submit or exec) and waits until it has
# registered them (master.sh).
. /usr/local/lib/wps/wait-for.sh
announce_to_qmaster() {
  common=$SGE_ROOT/$SGE_CELL/common
  name=$(hostname)
  wait_for 120 "the GridEngine master's hosts folder" test -d "$common/hosts/$1"
  rm -f "$common/hosts/$name.ready"
  hostname -i | awk '{print $1}' > "$common/hosts/$1/$name"
  wait_for 60 "$name registered by the GridEngine master" test -e "$common/hosts/$name.ready"
}
