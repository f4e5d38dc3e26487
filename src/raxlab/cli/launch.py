"""`rax launch ... -- rax bench comm|ddp ...`: run a measurement across nodes through torchrun.

    rax launch --nnodes 2 --nproc-per-node 8 --rdzv-endpoint 10.0.0.1:29400 -- rax bench comm -e 1G
        # prints the line to run on every node and the exact torchrun this node would run
    rax launch ... --execute -- rax bench comm ...      # run this node's part (on every node)
    rax launch --slurm --nnodes 4 --nproc-per-node 8 --transport nccl-ib --ifname ib0 \\
        --partition gpu --time 00:30:00 --out job.sbatch [--submit] -- rax bench ddp llama3-8b
"""

from __future__ import annotations

import argparse
import sys

from raxlab.cli.common import add_json, add_store, console, emit

COMMAND = "launch"
HELP = "run a rax bench comm|ddp measurement across nodes (torchrun, c10d rendezvous) or write a Slurm script"
ORDER = 47


def add_arguments(p: argparse.ArgumentParser) -> None:
    from raxlab.launch.cluster import DEFAULT_RDZV_TIMEOUT_S

    p.add_argument("--nnodes", type=int, default=1, help="nodes (default 1)")
    p.add_argument("--nproc-per-node", type=int, default=1, help="processes (GPUs) per node (default 1)")
    p.add_argument("--rdzv-endpoint", default=None, metavar="HOST:PORT",
                   help="rendezvous: an address of the first node (it hosts the store), port default 29400")
    p.add_argument("--rdzv-id", default=None, help="rendezvous id, the same on every node (default: from the command)")
    p.add_argument("--rdzv-timeout", type=float, default=DEFAULT_RDZV_TIMEOUT_S,
                   help=f"seconds a node waits for the rendezvous before it fails (default {DEFAULT_RDZV_TIMEOUT_S:g})")
    p.add_argument("--node-rank", type=int, default=None,
                   help="assert this node's role: 0 owns the rendezvous address, >0 joins (default: detected)")
    p.add_argument("--ifname", default=None,
                   help="interface for rendezvous and benchmark traffic (default: the one routing to the rendezvous)")
    p.add_argument("--transport", default=None, help="gloo | nccl | nccl-ib | nccl-socket (or in the bench command)")
    p.add_argument("--gid-index", type=int, default=None, help="RoCE GID index, exported as NCCL_IB_GID_INDEX")
    p.add_argument("--execute", action="store_true", help="run this node's part now (run it on every node)")
    s = p.add_argument_group("Slurm")
    s.add_argument("--slurm", action="store_true", help="write an sbatch script instead")
    s.add_argument("--submit", action="store_true", help="submit the script with sbatch")
    s.add_argument("--partition", default=None)
    s.add_argument("--time", default=None, help="time limit, e.g. 00:30:00")
    s.add_argument("--account", default=None)
    s.add_argument("--gpus-per-node", type=int, default=None, help="default: --nproc-per-node for NCCL arms")
    s.add_argument("--out", default=None, metavar="FILE", help="write the script here (default: print it)")
    add_json(p)
    add_store(p)
    p.add_argument("bench", nargs=argparse.REMAINDER, help="-- rax bench comm|ddp ... (the measurement)")
    p.epilog = ("Every node runs the same `rax launch ... --execute` line. Binding: the interface named with "
                "--ifname, else the one routing to the rendezvous address; the node that owns that address hosts "
                "the c10d store bound to it (torchrun runs with is_host=0), rank 0 binds the process-group store to "
                "its node address, gloo/NCCL sockets use the interface; nothing listens on every interface. "
                "torchrun numbers nodes by address; the node with global rank 0 stores one run with every node's "
                "fingerprint (give --store a shared path on clusters). Emulated nodes sharing one host: set "
                "OMP_NUM_THREADS so their ranks do not oversubscribe its cores.")


def _setup(args):
    from raxlab.errors import RaxError
    from raxlab.launch.cluster import ClusterSpec, parse_endpoint
    from raxlab.launch.job import parse_bench

    job = parse_bench(args.bench, args.transport)
    if args.gid_index is not None:
        job.extra["gid_index"] = args.gid_index
    if args.rdzv_endpoint is None and args.nnodes > 1 and not args.slurm:
        raise RaxError("give the first node's address, e.g. --rdzv-endpoint 10.0.0.1:29400", field="--rdzv-endpoint")
    host, port = parse_endpoint(args.rdzv_endpoint or "127.0.0.1")
    spec = ClusterSpec(args.nnodes, args.nproc_per_node, host, port, args.rdzv_id, args.rdzv_timeout,
                       args.ifname or job.extra.get("ifname"), args.node_rank).validate().with_id(job)
    args.store = args.store or job.store
    args.json = args.json or job.json
    return spec, job


def run(args) -> int:
    from raxlab.errors import RaxError

    if args.slurm and args.execute:
        raise RaxError("--slurm writes a job script; --execute runs this node's part now: give one", field="--execute")
    if args.submit and not args.slurm:
        raise RaxError("--submit submits the --slurm script; add --slurm", field="--submit")
    spec, job = _setup(args)
    if args.slurm:
        return _slurm(args, spec, job)
    if args.execute:
        return _execute(args, spec, job)
    from raxlab.launch.show import describe

    emit(args, describe(spec, job, args.store), _render_plan)
    return 0


def _slurm(args, spec, job) -> int:
    from raxlab.launch.show import write_slurm

    out = write_slurm(spec, job, args, store=args.store)
    emit(args, out, lambda d: print(d["script"], end="") if not d.get("path") else _render_slurm(d))
    return 0


def _render_slurm(d: dict) -> None:
    print(f"wrote {d['path']} (bash -n: ok)")
    if d.get("submitted"):
        print(d["submitted"])
    else:
        print(f"submit with: sbatch {d['path']}")


def _execute(args, spec, job) -> int:
    from raxlab.measure.launch_cluster import execute_node

    con = None if args.json else console()

    def progress(ev: dict) -> None:
        if con is None:
            return
        if ev.get("ev") == "joined":
            con.print(f"  node {ev.get('node_rank')} joined the process group")
        elif ev.get("ev") == "begin" and ev.get("rank") == 0:
            con.print(f"  {ev.get('what')} ...")
        elif ev.get("ev") == "fingerprints":
            con.print(f"  fingerprints: {', '.join(ev['roles'])}")

    result = execute_node(spec, job, store=args.store, on_event=progress)
    emit(args, result.to_dict(), _render_result)
    return 0


def _render_result(r: dict) -> None:
    b = r["binding"]
    print(f"this node: {b['address']} on {b['ifname']} ({b['how']})"
          + ("; hosted the rendezvous" if r["hosted_rendezvous"] else ""))
    print(f"ran: {r['command']}")
    if r["run_id"]:
        nodes = "; ".join(f"{n['role']} {n.get('hostname')} {n.get('address')} ({n.get('netns')})" for n in r["nodes"])
        print(f"run {r['run_id']} ({r['status']}, {r['wall_s']:.1f} s) stored in {r['store_path']} with "
              f"{len(r['nodes'])} node fingerprints: {nodes}")
    else:
        print(f"this node's ranks finished ({r['wall_s']:.1f} s); global rank 0 ran on node 0, which stored the run")


def _render_plan(d: dict) -> None:
    w = sys.stdout.write
    w(f"rax launch: {' '.join(d['command'])} on {d['nnodes']} nodes x {d['nproc_per_node']} processes "
      f"({d['world_size']} ranks), transport {d['transport']}\n")
    w(f"rendezvous: {d['rendezvous']}\n")
    w("run on every node (the node that owns the rendezvous address first):\n")
    w(f"  {d['every_node']}\n")
    w(f"this node ({d['this_node']}) runs:\n  {d['torchrun']}\n")
    for note in d["notes"]:
        w(f"- {note}\n")
