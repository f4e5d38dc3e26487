"""What `rax launch` prints and writes: the per-node commands, and the Slurm script on disk."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from raxlab.errors import RaxError
from raxlab.launch.cluster import ClusterSpec, launch_argv, node_command, shell_line
from raxlab.launch.job import Job
from raxlab.launch.netaddr import Binding, choose_binding, resolve

NOTES = [
    "torchrun runs with --rdzv-conf is_host=0 and TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1: torch's TCPStore "
    "servers listen on every interface, so `rax launch` hosts the rendezvous store itself, bound to the "
    "rendezvous address, and global rank 0 binds the process-group store to MASTER_ADDR; a bare torchrun "
    "line needs that host process, so run the `rax launch --execute` line",
    "other nodes run the same torchrun with their own --local-addr, RAX_NODE_ADDR and interface (the one "
    "named with --ifname, or the one routing to the rendezvous address)",
    "torchrun numbers the nodes by --local-addr (smallest first); global rank 0 runs on node 0 and its "
    "`rax launch` stores one run with every node's fingerprint (roles node0, node1, ...)",
]


def _this_node(spec: ClusterSpec) -> tuple[Binding, str]:
    try:
        addr = resolve(spec.rdzv_host)
        return choose_binding(addr, spec.ifname), addr
    except RaxError as exc:  # planning from a machine outside the cluster: show the shape
        where = f"<address-on-{spec.ifname}>" if spec.ifname else f"<address-routing-to-{spec.rdzv_host}>"
        return Binding(spec.ifname or "<interface>", where, False, f"not resolvable here: {exc}"), spec.rdzv_host


def describe(spec: ClusterSpec, job: Job, store: str | None) -> dict:
    b, addr = _this_node(spec)
    env, argv = node_command(spec, job, b, addr)
    host = ("this node owns it and will host the store" if b.hosts_rendezvous
            else "hosted by `rax launch` on the node that owns that address, bound to it only")
    return {"command": job.command, "nnodes": spec.nnodes, "nproc_per_node": spec.nproc_per_node,
            "world_size": spec.world_size, "transport": job.transport,
            "rendezvous": f"c10d at {addr}:{spec.rdzv_port}, id {spec.rdzv_id}, timeout {spec.rdzv_timeout_s:g} s; "
                          + host,
            "every_node": " ".join(shlex.quote(a) for a in launch_argv(spec, job, store)),
            "this_node": f"{b.address} on {b.ifname}: {b.how}", "binding": b.to_dict(),
            "torchrun": shell_line(env, argv), "torchrun_env": env, "torchrun_argv": argv, "notes": NOTES}


def bash_check(text: str) -> None:
    """`bash -n`: the script parses (RaxError with bash's message otherwise)."""
    if not shutil.which("bash"):
        return
    proc = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True, timeout=10)
    if proc.returncode != 0:
        raise RaxError(f"the generated script does not parse: {proc.stderr.strip()}")


def _env_bin() -> str | None:
    """The bin directory of the environment rax runs from, when it is a virtual environment."""
    return str(Path(sys.executable).parent) if sys.prefix != sys.base_prefix else None


def write_slurm(spec: ClusterSpec, job: Job, args, store: str | None) -> dict:
    from raxlab.launch.slurm import SlurmOptions, sbatch_script
    from raxlab.store import default_path

    store = os.path.abspath(store or os.environ.get("RAX_STORE") or str(default_path()))
    out_dir = os.path.dirname(os.path.abspath(args.out)) if args.out else os.getcwd()
    try:
        os.makedirs(out_dir, exist_ok=True)  # Slurm fails a job whose --output directory is missing
    except OSError as exc:
        raise RaxError(f"cannot create {out_dir!r}: {exc.strerror or exc}", field="--out") from None
    opts = SlurmOptions(args.partition, args.time, args.gpus_per_node, args.account, out_dir, _env_bin())
    text = sbatch_script(spec, job, opts, store)
    bash_check(text)
    path = args.out or (f"rax-launch-{spec.rdzv_id}.sbatch" if args.submit else None)
    if path:
        from raxlab.outfile import write_file

        write_file(path, text, field="--out")
    return {"script": text, "path": path, "store": store, "submitted": _submit(path) if args.submit else None}


def _submit(path: str) -> str:
    if not shutil.which("sbatch"):
        raise RaxError(f"sbatch is not on PATH (not a Slurm login node?); the script is in {path}: submit it "
                       "where Slurm is installed with `sbatch FILE`", field="--submit")
    proc = subprocess.run(["sbatch", path], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RaxError(f"sbatch {path} failed: {(proc.stderr or proc.stdout).strip()[:300]}", field="--submit")
    return proc.stdout.strip()
