"""Worker entry point of the comm benchmark: one process per rank.

`rax bench comm` starts it on every rank. On a cluster run it under torchrun, or under
plain srun with MASTER_ADDR/MASTER_PORT exported (RANK, WORLD_SIZE and LOCAL_RANK then
come from SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID); rank 0 writes the store itself:

    torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29400 \\
        -m raxlab.measure.comm.worker --transport nccl-ib -b 8 -e 1G --store /shared/rax.db

Every flag of the sweep (`--collectives`, `--dtypes`, `-b/-e/-f`, `--iters`, `--warmup`,
`--timeout`) means what it means for `rax bench comm`. The transport arm's environment
(NCCL_NET, NCCL_NET_PLUGIN, *_SOCKET_IFNAME, NCCL_IB_GID_INDEX, NCCL_DEBUG) is applied
here, before the process group exists, so it holds under any launcher.
"""

from __future__ import annotations

import argparse
import os

from raxlab.measure.comm import transports
from raxlab.measure.comm.options import SweepOptions, add_sweep_arguments, sweep_from_args
from raxlab.measure.comm.rank import RankContext, emit, env_from_slurm, init_distributed, worker_main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m raxlab.measure.comm.worker",
                                description="RA:X collective benchmark, one rank")
    add_sweep_arguments(p)
    p.add_argument("--transport", default="gloo", help=f"one of {', '.join(transports.ARMS)}")
    p.add_argument("--ifname", default=None, help="network interface for gloo/NCCL sockets")
    p.add_argument("--gid-index", type=int, default=None, help="RoCE GID index (NCCL_IB_GID_INDEX)")
    p.add_argument("--emulated", action="store_true", help="ranks share a host: keep NCCL off P2P/SHM")
    p.add_argument("--store", default=None, help="rank 0 writes results to this store (torchrun/srun use)")
    return p


def _fingerprints(ctx: RankContext) -> list[dict]:
    """Fingerprints of the machines other than rank 0's (a `rax` launch; torchrun: per node, rank.py)."""
    import torch.distributed as dist

    from raxlab.measure.fingerprint import fingerprint

    everyone: list = [None] * ctx.world_size
    dist.all_gather_object(everyone, fingerprint())
    seen, items = {everyone[0]["machine_id"]}, []
    for r, fp in enumerate(everyone):
        if fp["machine_id"] not in seen:
            seen.add(fp["machine_id"])
            items.append({"role": f"rank{r}", "fingerprint": fp})
    return items


def _make_sink(ctx: RankContext, args, opts: SweepOptions):
    """Rank 0's destination for events: stdout for the rax launcher, or the store."""
    if not args.store or not ctx.is_root:
        return emit, None
    from raxlab.measure.comm.record import RUN_KIND, Recorder
    from raxlab.measure.fingerprint import fingerprint
    from raxlab.store import Store

    store = Store(args.store)
    run_id = store.new_run(RUN_KIND, params={**opts.to_dict(), "ranks": ctx.world_size, "launcher": "torchrun"})
    store.add_fingerprint(run_id, fingerprint(), role="host")
    recorder = Recorder(store, run_id)
    return recorder.handle, recorder


def run(args) -> None:
    env_from_slurm()  # before the per-rank NCCL log name is chosen
    opts = sweep_from_args(args, args.transport)
    arm = transports.get_arm(opts.transport)
    log_dir = transports.apply_arm_env(arm, ifname=args.ifname, gid_index=args.gid_index,
                                         emulated=args.emulated)
    ctx = init_distributed(arm.backend, opts.timeout_s)
    sink, recorder = _make_sink(ctx, args, opts)
    try:
        _measure(ctx, arm, opts, args, log_dir, sink)
    except BaseException as exc:
        if recorder:
            recorder.finish("interrupted" if isinstance(exc, KeyboardInterrupt) else "failed", str(exc))
        raise
    if recorder:
        recorder.finish("complete")


def _measure(ctx: RankContext, arm, opts: SweepOptions, args, log_dir: str | None, sink) -> None:
    from raxlab.measure.comm.bench import run_sweep

    # Under torchrun, init_distributed gathered one fingerprint per node and reported them on
    # stdout; only a rank 0 that stores itself (--store) still has to record them.
    items = ((ctx.nodes if sink is not emit else []) if ctx.torchrun else _fingerprints(ctx)) or []
    if ctx.is_root and items:
        sink({"ev": "fingerprints", "items": items})
    if arm.backend == "gloo" and ctx.is_root:
        sink({"ev": "transport", "info": transports.describe_gloo(os.environ.get("GLOO_SOCKET_IFNAME"))})

    def check(_collective: str, final: bool = False) -> None:
        info = transports.read_rank_log(log_dir, ctx.rank)
        transports.verify(arm, info, ctx.world_size, final=final)
        if final and info is not None:
            event = {"ev": "transport", "info": {"backend": "nccl", "arm": arm.name, **info.to_dict()}}
            (sink if ctx.is_root else emit)(event)  # every rank's verdict reaches the parent

    n = run_sweep(ctx, opts, sink, after_first=check if arm.backend == "nccl" else None)
    if arm.backend == "nccl":
        check("", final=True)
    if ctx.is_root:
        sink({"ev": "done", "points": n})


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    worker_main(lambda: run(args))


if __name__ == "__main__":
    main()
