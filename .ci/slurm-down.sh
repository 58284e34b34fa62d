#!/usr/bin/env bash
# Stop the one-node SLURM started by .ci/slurm-up.sh, by the PIDs in its pid files (never by name).
#
#   .ci/slurm-down.sh [SCRATCH]    SCRATCH defaults to $RNNGRAD_SLURM_DIR or /tmp/rnngrad-slurm
set -uo pipefail

dir=${1:-${RNNGRAD_SLURM_DIR:-/tmp/rnngrad-slurm}}
status=0

stop() {  # stop NAME PIDFILE: TERM, wait up to 10 s, then KILL
    local name=$1 pidfile=$2 pid
    [ -s "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "slurm-down: $name (pid $pid) ignored TERM; sending KILL" >&2
            kill -KILL "$pid" 2>/dev/null || status=1
        fi
    fi
    rm -f "$pidfile"
}

stop slurmd "$dir/slurmd.pid"
stop slurmctld "$dir/slurmctld.pid"
stop munged "$dir/munge/munged.pid"
if [ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" = "$dir/slurm.conf" ]; then
    rm -f /etc/slurm/slurm.conf
fi
exit $status
