#!/usr/bin/env bash
# start.sh — install (from Debian's packages) and start everything the scheduler tests
# drive: a single-node GridEngine, a single-node Slurm and an sshd on 127.0.0.1:2222.
# Idempotent (running daemons are kept) and bounded in time. Run as root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# The tests' jobs mostly wait (sleep, a gate file, a session), and several test files use
# the batch systems at once: more slots than cores keeps one file's jobs from queueing
# behind another's.
export SGE_SLOTS="${SGE_SLOTS:-8}" SLURM_CPUS="${SLURM_CPUS:-8}"
timeout 600 bash "$here/gridengine-start.sh" >/dev/null
timeout 600 bash "$here/slurm-start.sh" >/dev/null
timeout 600 bash "$here/../test-sshd.sh" >/dev/null
echo "[schedulers] GridEngine, Slurm and the test sshd are up" >&2
