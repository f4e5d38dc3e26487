#!/bin/bash
# Written by `rax launch --slurm`: rax bench comm on 4 nodes x 8 processes, transport nccl-ib.
# Submit with: sbatch THIS_FILE
#SBATCH --job-name=rax-comm
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --exclusive
#SBATCH --partition=gpu
#SBATCH --time=00:30:00
#SBATCH --output=/shared/rax/logs/rax-comm-%j.out
#SBATCH --error=/shared/rax/logs/rax-comm-%j.err
set -euo pipefail

# Rendezvous on the first node of the allocation; this batch script runs there.
HEAD=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
RDZV_ADDR=$(ip -4 -o addr show dev ib0 | awk '{split($4, a, "/"); print a[1]; exit}')
[ -n "$RDZV_ADDR" ] || { echo "rax: no IPv4 address on ib0 on $HEAD" >&2; exit 2; }
RDZV_PORT=29400

# Transport arm nccl-ib: NCCL over IB verbs (InfiniBand or RoCE). The workers set the same values themselves.
export GLOO_SOCKET_IFNAME=ib0
export NCCL_DEBUG=INFO
export NCCL_DEBUG_SUBSYS=INIT,NET,ENV
export NCCL_SOCKET_IFNAME==ib0
export NCCL_NET=IB
export NCCL_NET_PLUGIN=none
export NCCL_IB_GID_INDEX=3

# One `rax launch --execute` per node. Each runs torchrun for its processes:
#   python -m torch.distributed.run --nnodes $SLURM_JOB_NUM_NODES --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint $RDZV_ADDR:$RDZV_PORT --rdzv-id rax-$SLURM_JOB_ID --rdzv-conf is_host=0,join_timeout=300,read_timeout=60 --local-addr <its address> --max-restarts 0 -m raxlab.measure.comm.worker ...
# binds only its interface (the one named, or the one routing to $RDZV_ADDR), and the node that
# owns $RDZV_ADDR hosts the rendezvous. Global rank 0 stores one run with every node's fingerprint.
srun --nodes="$SLURM_JOB_NUM_NODES" --ntasks-per-node=1 --kill-on-bad-exit=1 \
    rax launch --nnodes "$SLURM_JOB_NUM_NODES" --nproc-per-node 8 --rdzv-endpoint "$RDZV_ADDR:$RDZV_PORT" --rdzv-id "rax-$SLURM_JOB_ID" --rdzv-timeout 300 --ifname ib0 --gid-index 3 --transport nccl-ib --store /shared/rax/results.db --execute -- rax bench comm -e 1G --dtypes bf16
