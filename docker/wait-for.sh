# wait-for.sh — sourced by the entrypoints: wait_for SECONDS WHAT COMMAND... runs COMMAND
# every half second until it succeeds; after SECONDS it says what did not happen, and fails.
wait_for() {
  _seconds=$1 _what=$2
  shift 2
  _tries=$((_seconds * 2))
  until "$@" >/dev/null 2>&1; do
    _tries=$((_tries - 1))
    [ "$_tries" -gt 0 ] || { echo "$_what: not within $_seconds s" >&2; return 1; }
    sleep 0.5
  done
}
