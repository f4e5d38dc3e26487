"""`rax launch --slurm`: an sbatch script that runs the launch on every node of an allocation.

    text = sbatch_script(spec, job, SlurmOptions(partition="gpu", time="00:30:00"), store="/shared/rax.db")

Layout of the script (checked by `bash -n` in the tests, golden file tests/launch/data/):
- `#SBATCH` nodes, one task per node, GPUs per node (NCCL arms), exclusive nodes (a
  benchmark shares nothing), partition/time/account, `--output`/`--error` paths;
- the rendezvous on the first node of the allocation (`scontrol show hostnames`); the batch
  script itself runs there, so with --ifname its address on that interface is read with
  `ip`, otherwise the host name is used (it must resolve to the same address everywhere);
- the transport arm's environment, exported (NCCL_NET, NCCL_NET_PLUGIN, NCCL_SOCKET_IFNAME,
  NCCL_IB_GID_INDEX, GLOO_SOCKET_IFNAME, NCCL_DEBUG): the workers set the same values, here
  they are on record in the job;
- `srun` one `rax launch --execute` per node: it runs torchrun for that node's GPUs (the line
  is in a comment and in the job log), binds only the chosen interface, hosts the
  rendezvous on the first node, and global rank 0 stores one run with every node's
  fingerprint in the store (give a path on a shared file system).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from raxlab.errors import RaxError
from raxlab.launch.cluster import ClusterSpec, launch_argv, rdzv_conf, transport_env
from raxlab.launch.job import Job

NODES_VAR = '"$SLURM_JOB_NUM_NODES"'


@dataclass
class SlurmOptions:
    partition: str | None = None
    time: str | None = None  # Slurm time format, e.g. 00:30:00
    gpus_per_node: int | None = None  # default: --nproc-per-node for the NCCL arms, none for gloo
    account: str | None = None
    output_dir: str = "."
    path_prepend: str | None = None  # a bin directory (the current environment's) put first on PATH


def _q(text: str) -> str:
    """Quote for the script, leaving "$VAR"-style words (already quoted) as they are."""
    return text if text.startswith('"$') or text.startswith('"rax-$') else shlex.quote(text)


def _header(spec: ClusterSpec, job: Job, o: SlurmOptions) -> list[str]:
    gpus = o.gpus_per_node if o.gpus_per_node is not None else (
        spec.nproc_per_node if job.transport.startswith("nccl") else None)
    lines = ["#!/bin/bash",
             f"# Written by `rax launch --slurm`: rax bench {job.kind} on {spec.nnodes} nodes x "
             f"{spec.nproc_per_node} processes, transport {job.transport}.",
             "# Submit with: sbatch THIS_FILE",
             f"#SBATCH --job-name=rax-{job.kind}",
             f"#SBATCH --nodes={spec.nnodes}",
             "#SBATCH --ntasks-per-node=1"]
    lines += [f"#SBATCH --gpus-per-node={gpus}"] if gpus else []
    lines += ["#SBATCH --exclusive"]
    lines += [f"#SBATCH --{k}={v}" for k, v in (("partition", o.partition), ("time", o.time),
                                                   ("account", o.account)) if v]
    out = o.output_dir.rstrip("/") or "."
    return lines + [f"#SBATCH --output={out}/rax-{job.kind}-%j.out", f"#SBATCH --error={out}/rax-{job.kind}-%j.err",
                    "set -euo pipefail"]


def _rendezvous(spec: ClusterSpec) -> list[str]:
    lines = ["", "# Rendezvous on the first node of the allocation; this batch script runs there.",
             'HEAD=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)']
    if spec.ifname:
        lines.append(f"RDZV_ADDR=$(ip -4 -o addr show dev {shlex.quote(spec.ifname)} | "
                     "awk '{split($4, a, \"/\"); print a[1]; exit}')")
        lines.append(f'[ -n "$RDZV_ADDR" ] || {{ echo "rax: no IPv4 address on {spec.ifname} on $HEAD" >&2; exit 2; }}')
    else:
        lines.append('RDZV_ADDR="$HEAD"  # must resolve to the same address on every node')
    return lines + [f"RDZV_PORT={spec.rdzv_port}"]


def _environment(job: Job, spec: ClusterSpec) -> list[str]:
    from raxlab.measure.comm import transports

    arm = transports.get_arm(job.transport)
    env = transport_env(job, spec.ifname)
    lines = ["", f"# Transport arm {arm.name}: {arm.about}. The workers set the same values themselves."]
    return lines + [f"export {k}={shlex.quote(v)}" for k, v in env.items()]


def _srun(spec: ClusterSpec, job: Job, store: str | None) -> list[str]:
    argv = launch_argv(spec, job, store, endpoint='"$RDZV_ADDR:$RDZV_PORT"', nnodes=NODES_VAR,
                       rdzv_id='"rax-$SLURM_JOB_ID"')
    words = ["srun", "--nodes=\"$SLURM_JOB_NUM_NODES\"", "--ntasks-per-node=1", "--kill-on-bad-exit=1"]
    body = " ".join(_q(a) for a in argv)
    torchrun = (f"#   python -m torch.distributed.run --nnodes $SLURM_JOB_NUM_NODES --nproc-per-node "
                f"{spec.nproc_per_node} --rdzv-backend c10d --rdzv-endpoint $RDZV_ADDR:$RDZV_PORT "
                f"--rdzv-id rax-$SLURM_JOB_ID --rdzv-conf {rdzv_conf(spec)} --local-addr <its address> "
                f"--max-restarts 0 -m {job.module} ...")
    return ["", "# One `rax launch --execute` per node. Each runs torchrun for its processes:", torchrun,
            "# binds only its interface (the one named, or the one routing to $RDZV_ADDR), and the node that",
            "# owns $RDZV_ADDR hosts the rendezvous. Global rank 0 stores one run with every node's fingerprint.",
            " ".join(words) + " \\", "    " + body]


def sbatch_script(spec: ClusterSpec, job: Job, o: SlurmOptions, store: str | None) -> str:
    if spec.nnodes < 1:
        raise RaxError("need --nnodes >= 1", field="--nnodes")
    lines = _header(spec, job, o)
    if o.path_prepend:
        lines += ["", "# The environment rax was installed in (must be visible on every node).",
                  f"export PATH={shlex.quote(o.path_prepend)}:\"$PATH\""]
    lines += _rendezvous(spec) + _environment(job, spec) + _srun(spec, job, store)
    return "\n".join(lines) + "\n"
