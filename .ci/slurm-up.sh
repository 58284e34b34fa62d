#!/usr/bin/env bash
# Bring up a real one-node SLURM (Debian's packages, no systemd) for tests/test_slurm.py.
#
#   .ci/slurm-up.sh [SCRATCH]      SCRATCH defaults to $RNNGRAD_SLURM_DIR or /tmp/rnngrad-slurm
#
# Everything the daemons write (state, spool, logs, pid files, munge key and socket) lives in
# SCRATCH; /etc/slurm/slurm.conf is a symlink to SCRATCH/slurm.conf, because the executor plugin's
# inner srun drops SLURM_CONF from its environment. Stop it all with .ci/slurm-down.sh SCRATCH.
# What works here and why: docs/cluster.md, "A one-node SLURM for the tests".
set -euo pipefail

dir=${1:-${RNNGRAD_SLURM_DIR:-/tmp/rnngrad-slurm}}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # slurm-wlm would pull many recommended packages
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi

if [ -e /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" != "$dir/slurm.conf" ]; then
    echo "slurm-up: /etc/slurm/slurm.conf exists and is not ours; refusing to replace it" >&2
    exit 1
fi
if [ -s "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
    echo "slurm-up: slurmctld already running from $dir (pid $(cat "$dir/slurmctld.pid"))" >&2
    exit 1
fi

mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/munge"
chmod 755 "$dir" "$dir/munge"  # munged refuses a socket whose folders others cannot enter

# munge: a fresh key, readable by its owner alone
if [ ! -s "$dir/munge/munge.key" ]; then
    dd if=/dev/urandom bs=1024 count=1 of="$dir/munge/munge.key" status=none
fi
chmod 400 "$dir/munge/munge.key"
munged --socket="$dir/munge/munge.socket.2" --key-file="$dir/munge/munge.key" \
    --log-file="$dir/log/munged.log" --pid-file="$dir/munge/munged.pid" \
    --seed-file="$dir/munge/munged.seed"

host=$(hostname -s)
node=$(slurmd -C | head -n 1)  # NodeName=... CPUs=... RealMemory=...
cat >"$dir/slurm.conf" <<EOF
ClusterName=rnngrad-ci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket.2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no cgroups on a CI container
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# schedule at once (the defaults make each job wait ~3 s)
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
ReturnToService=2
MpiDefault=none
# squeue must still list finished jobs when the plugin polls (>= 3x its first status interval)
MinJobAge=300
$node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
mkdir -p /etc/slurm
ln -sfn "$dir/slurm.conf" /etc/slurm/slurm.conf
export SLURM_CONF=$dir/slurm.conf

slurmctld  # both daemonize and write their pid files
slurmd

for _ in $(seq 1 60); do
    if [ "$(sinfo -h -o %T 2>/dev/null)" = idle ]; then  # not idle* (not yet responding)
        echo "slurm-up: one-node SLURM idle in $dir"
        exit 0
    fi
    sleep 1
done
echo "slurm-up: node not idle after 60 s; sinfo says: $(sinfo -h -o %T 2>&1)" >&2
tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
exit 1
