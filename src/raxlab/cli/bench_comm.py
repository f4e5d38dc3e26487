"""`rax bench comm`: collective benchmark (nccl-tests semantics) per transport, with α-β fit.

    rax bench comm --ranks 2                               # gloo over loopback
    rax bench comm --ranks 4 --emulate 1gbit -b 1M -e 16M  # root: one rank per namespace, 1 gbit links
    rax bench comm --transport nccl-ib --ranks 8 -e 1G     # one GPU node
    rax bench comm --transport nccl-ib --torchrun -- --nnodes 2 --nproc-per-node 8 \\
        --rdzv-backend c10d --rdzv-endpoint HOST:29400     # on every node
"""

from __future__ import annotations

import argparse
import sys

from raxlab.cli.common import EXIT_CHECK_FAILED, EXIT_OK, add_json, add_store, emit
from raxlab.errors import RaxError

COMMAND = ("bench", "comm")
HELP = "collectives over torch.distributed: time, algbw/busbw (nccl-tests), alpha-beta fit, per transport"
ORDER = 40


def add_arguments(p: argparse.ArgumentParser) -> None:
    from raxlab.measure.comm.options import add_sweep_arguments

    p.add_argument("--ranks", type=int, default=2,
                   help="rank processes on this machine, one per namespace with --emulate (default 2)")
    p.add_argument("--transport", default="gloo", help="gloo | nccl | nccl-ib | nccl-socket (default gloo)")
    add_sweep_arguments(p)
    p.add_argument("--emulate", metavar="RATE|TOPOLOGY", default=None,
                   help="root: one rank per network namespace over links shaped to RATE (e.g. 1gbit, or "
                        "'unshaped' for the host's ceiling), or a leaf-spine TOPOLOGY, e.g. "
                        "'nodes=4,leaves=2,nic=1gbit,leaf=4:1' or a .yaml file (netemu/topology.py); rate only, "
                        "latency is not emulated")
    p.add_argument("--mtu", type=int, default=None, help="MTU of emulated links (default 9000)")
    p.add_argument("--ifname", default=None, help="interface for gloo/NCCL sockets (default lo locally)")
    p.add_argument("--gid-index", type=int, default=None, help="RoCE GID index for the nccl arms")
    p.add_argument("--master-port", type=int, default=0,
                   help="rendezvous port on rank 0's address (default 0: an ephemeral port)")
    p.add_argument("--torchrun", action="store_true",
                   help="run under torchrun; the arguments after -- go to torchrun (run it on every node)")
    p.add_argument("torchrun_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    add_json(p)
    add_store(p)
    p.epilog = ("On a cluster, run the worker under torchrun or srun directly, with the same sweep flags: "
                "torchrun --nnodes N --nproc-per-node G --rdzv-backend c10d --rdzv-endpoint HOST:PORT "
                "-m raxlab.measure.comm.worker --transport nccl-ib -e 1G --store PATH (rank 0 stores). "
                "busbw follows nccl-tests (GB/s = 1e9 B/s); time is the median of the slowest rank per iteration.")


def _torchrun_args(args) -> list[str] | None:
    rest = list(args.torchrun_args or [])
    if rest[:1] == ["--"]:
        rest = rest[1:]
    if rest and not args.torchrun:
        raise RaxError(f"unexpected arguments {' '.join(rest)}; torchrun options go after --torchrun --",
                       field="--torchrun")
    return rest if args.torchrun else None


def run(args) -> int:
    from raxlab.measure.comm.driver import run_comm
    from raxlab.measure.comm.options import sweep_from_args
    from raxlab.measure.comm.render import TableWriter, title_for

    sweep = sweep_from_args(args, args.transport)
    torchrun_args = _torchrun_args(args)
    mtu = args.mtu or (9000 if args.emulate else None)
    ifname = args.ifname or (None if args.emulate or args.torchrun else "lo")
    writer = None if args.json else TableWriter(sys.stdout, title_for(args.transport, args.emulate, mtu, ifname))
    on_event = (lambda ev: writer.row(ev["row"]) if ev.get("ev") == "row" else None) if writer else None
    result = run_comm(sweep, ranks=args.ranks, emulate=args.emulate, mtu=args.mtu, ifname=args.ifname,
                      gid_index=args.gid_index, torchrun_args=torchrun_args, master_port=args.master_port,
                      store=args.store,
                      on_event=on_event)
    fabric = result.params.get("fabric") or {}
    link = fabric.get("bottleneck_GBps") or (fabric.get("shaping") or {}).get("rate_GBps")  # a topology: its ring's
    emit(args, result.to_dict(), lambda r: _render(r, link))
    from raxlab.measure.busyness import warn_stored

    warn_stored(result.store_path, result.run_id, link_bound=bool(args.emulate and args.emulate != "unshaped"))
    return EXIT_CHECK_FAILED if any(r.get("correct") is False for r in result.rows) else EXIT_OK


def _render(result: dict, link_GBps: float | None) -> None:
    from raxlab.measure.comm.render import write_summary

    write_summary(sys.stdout, result["fits"], link_GBps)
    kinds = sorted({info.get("kind", "?") for info in result["transport"].values()})
    print(f"# transport seen: {', '.join(kinds) or 'none recorded'}; run {result['run_id']} "
          f"({len(result['rows'])} points, {result['wall_s']:.1f} s) stored in {result['store_path']}")
