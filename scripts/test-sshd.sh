#!/usr/bin/env bash
# test-sshd.sh — an sshd on 127.0.0.1:2222 with key authentication, for the tests of
# the ssh transport (schedulers driven over ssh, as from outside a cluster).
# Idempotent and bounded. Writes its key pair and known_hosts under $WPS_TEST_SSH_DIR
# (default /var/lib/wps-test-ssh); prints the environment the tests read.
set -euo pipefail
DIR="${WPS_TEST_SSH_DIR:-/var/lib/wps-test-ssh}"
PORT="${WPS_TEST_SSH_PORT:-2222}"
log() { printf '[test-sshd] %s\n' "$*" >&2; }
[ "$(id -u)" = 0 ] || { log "must run as root"; exit 1; }

if ! command -v sshd >/dev/null 2>&1 && [ ! -x /usr/sbin/sshd ]; then
  log "installing openssh-server"
  if ! apt-cache policy openssh-server 2>/dev/null | grep -q 'Candidate: [0-9]'; then timeout 300 apt-get update -q >&2; fi
  timeout 480 env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -q --no-install-recommends openssh-server openssh-client >&2
fi
install -d -m 0700 "$DIR" /run/sshd
[ -s /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -A >&2
[ -s "$DIR/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C wps-test -f "$DIR/id_ed25519"
install -d -m 0700 /root/.ssh
touch /root/.ssh/authorized_keys && chmod 0600 /root/.ssh/authorized_keys
grep -qF "$(cat "$DIR/id_ed25519.pub")" /root/.ssh/authorized_keys || cat "$DIR/id_ed25519.pub" >> /root/.ssh/authorized_keys

cat > "$DIR/sshd_config" <<CONF
Port $PORT
ListenAddress 127.0.0.1
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
UsePAM no
PidFile $DIR/sshd.pid
MaxStartups 100:30:200
MaxSessions 100
# bash sources ~/.bashrc for a command sshd runs when it is the first shell (SHLVL unset):
# root's here may set up a whole toolchain (pyenv init) for every batch command, which a
# gateway's service account on a command node does not.
SetEnv SHLVL=1
CONF

alive() { [ -s "$DIR/sshd.pid" ] && kill -0 "$(cat "$DIR/sshd.pid")" 2>/dev/null; }
if alive; then
  log "sshd already running (pid $(cat "$DIR/sshd.pid")); reloading its configuration"
  kill -HUP "$(cat "$DIR/sshd.pid")"
else
  setsid /usr/sbin/sshd -f "$DIR/sshd_config" </dev/null >/dev/null 2>&1
fi
for _ in $(seq 1 40); do
  ssh-keyscan -p "$PORT" -t ed25519 127.0.0.1 > "$DIR/known_hosts" 2>/dev/null && [ -s "$DIR/known_hosts" ] && break
  sleep 0.25
done
[ -s "$DIR/known_hosts" ] || { log "sshd does not answer on 127.0.0.1:$PORT"; exit 1; }
ssh -o BatchMode=yes -o UserKnownHostsFile="$DIR/known_hosts" -i "$DIR/id_ed25519" -p "$PORT" root@127.0.0.1 true \
  || { log "key login to root@127.0.0.1:$PORT fails"; exit 1; }
log "ready: root@127.0.0.1:$PORT, key $DIR/id_ed25519"
echo "WPS_TEST_SSH_DIR=$DIR WPS_TEST_SSH_PORT=$PORT"
