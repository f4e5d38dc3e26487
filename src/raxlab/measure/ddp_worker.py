"""Worker entry point of `rax bench ddp` and of the `rax abtest` arms: one process per rank.

Two modes (rank 0 reports events on stdout, read by the parent as they come):

  bench (default)  `--warmup` untimed rounds, then up to `--steps` measured rounds within
                   `--max-seconds` (at least min(3, steps)); events: "setup" (model, gradient
                   bytes, DDP buckets), "warm" and "round" (slowest-rank seconds of the
                   single / sync / nosync steps of one round), "transport", "done".
  serve CONTROL    an A/B arm: warm up, report "ready", then wait. The parent writes
                   commands to the file CONTROL ({"seq": n, "cmd": "rep"|"stop"|"abort",
                   "rep": k}); every rank polls it (the ranks of a `rax` launch share the
                   host), runs `--rep-warmup` untimed and `--steps` timed rounds per "rep"
                   and reports "rep" with the raw step times. Arms take turns this way
                   while their processes stay up, so no repetition pays start-up cost.
                   While idle every rank ticks its progress counter: waiting for a turn
                   is not a hang, so the launcher's watchdog only judges running steps.

The transport arm's environment is applied here, before the process group exists (as in
the comm worker), and NCCL arms are verified from their NCCL_DEBUG=INFO log.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from raxlab.measure.comm import transports
from raxlab.measure.comm.rank import RankContext, emit, init_distributed, worker_main
from raxlab.measure.ddp_options import DdpOptions, add_ddp_arguments, options_from_args

POLL_S = 0.02


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m raxlab.measure.ddp_worker",
                                description="RA:X distributed training step, one rank")
    add_ddp_arguments(p, workload=True)
    p.add_argument("--steps", type=int, default=10, help="measured rounds (bench) or rounds per repetition (serve)")
    p.add_argument("--max-seconds", type=float, default=60.0, help="cap on the measured rounds (bench)")
    p.add_argument("--no-baseline", action="store_true", help="skip the 1-rank step")
    p.add_argument("--no-split", action="store_true", help="skip the no_sync step")
    p.add_argument("--transport", default="gloo", help=f"one of {', '.join(transports.ARMS)}")
    p.add_argument("--ifname", default=None, help="network interface for gloo/NCCL sockets")
    p.add_argument("--emulated", action="store_true", help="ranks share a host: keep NCCL off P2P/SHM")
    p.add_argument("--serve", metavar="CONTROL", default=None, help="A/B arm mode: take commands from this file")
    p.add_argument("--rep-warmup", type=int, default=1, help="untimed rounds before each repetition (serve)")
    return p


class Control:
    """The parent's command file, read by polling (written atomically by the parent)."""

    def __init__(self, path: str):
        self.path, self.seq = Path(path), 0

    def read(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None

    def wait(self, ctx: RankContext) -> dict:
        while True:
            cmd = self.read()
            if cmd and cmd.get("seq", 0) > self.seq:
                self.seq = cmd["seq"]
                return cmd
            ctx.progress.enter()  # alive and idle, not hung
            ctx.progress.done()
            time.sleep(POLL_S)

    def aborted(self) -> bool:
        cmd = self.read()
        return bool(cmd and cmd.get("cmd") == "abort")


def _verifier(ctx: RankContext, arm: transports.Arm, log_dir: str | None):
    """check(final): RaxError when the NCCL log shows another transport than the arm's."""
    def check(final: bool = False) -> None:
        if arm.backend != "nccl":
            return
        info = transports.read_rank_log(log_dir, ctx.rank)
        transports.verify(arm, info, ctx.world_size, final=final)
        if final and info is not None:
            emit({"ev": "transport", "info": {"backend": "nccl", "arm": arm.name, **info.to_dict()}})
    return check


def _emit0(ctx: RankContext, event: dict) -> None:
    if ctx.is_root:
        emit(event)


def _warm(ctx: RankContext, tr, opts: DdpOptions, single: bool, check) -> dict:
    _emit0(ctx, {"ev": "begin", "what": "warm-up"})
    last = {}
    for i in range(opts.warmup):
        last = tr.round(single=single, split=opts.split)
        _emit0(ctx, {"ev": "warm", "i": i, **last})
        if i == 0:
            check()
    _emit0(ctx, {"ev": "setup", "info": tr.describe()})
    return last


def _bench(ctx: RankContext, tr, opts: DdpOptions, args, check) -> None:
    last = _warm(ctx, tr, opts, opts.baseline, check)
    per_round = sum(last.get(k) or 0 for k in ("single_s", "sync_s", "nosync_s"))
    # Same reduced times on every rank, so every rank computes the same count.
    rounds = min(opts.steps, max(3, int(args.max_seconds / per_round) if per_round > 0 else opts.steps))
    _emit0(ctx, {"ev": "begin", "what": f"{rounds} measured rounds"})
    for i in range(rounds):
        _emit0(ctx, {"ev": "round", "i": i, **tr.round(single=opts.baseline, split=opts.split)})


def _serve(ctx: RankContext, tr, opts: DdpOptions, args, check) -> None:
    control = Control(args.serve)
    _warm(ctx, tr, opts, False, check)
    _emit0(ctx, {"ev": "ready"})
    while True:
        _emit0(ctx, {"ev": "begin", "what": "the wait for its turn"})
        cmd = control.wait(ctx)
        if cmd["cmd"] != "rep":
            return
        _emit0(ctx, {"ev": "begin", "what": f"repetition {cmd['rep']}"})
        times = {"sync_s": [], "nosync_s": [], "a2a_sync_s": [], "a2a_nosync_s": []}  # a2a: expert parallel
        for i in range(args.rep_warmup + opts.steps):
            if control.aborted():
                os._exit(0)  # the parent is ending the experiment; it kills what is left
            got = tr.round(single=False, split=opts.split)
            for key in times if i >= args.rep_warmup else ():
                if got.get(key) is not None:  # nosync is None with --no-split, a2a without --ep
                    times[key].append(got[key])
        _emit0(ctx, {"ev": "rep", "rep": cmd["rep"], **times})


def run(args) -> None:
    import torch

    from raxlab.measure.moe_train import trainer_class
    from raxlab.workload import load_workload

    opts = options_from_args(args, steps=args.steps, max_seconds=args.max_seconds,
                             baseline=not args.no_baseline and not args.serve, split=not args.no_split)
    arm = transports.get_arm(args.transport)
    log_dir = transports.apply_arm_env(arm, ifname=args.ifname, emulated=args.emulated)
    ctx = init_distributed(arm.backend, opts.timeout_s)
    if arm.backend == "gloo" and ctx.is_root:
        emit({"ev": "transport", "info": transports.describe_gloo(os.environ.get("GLOO_SOCKET_IFNAME"))})
    wl = load_workload(opts.workload, trust_code=opts.trust_code)
    opts.batch = opts.batch or wl.spec.micro_batch
    if opts.ep is None:  # launched without a parent that resolved it (rax launch, torchrun)
        opts.resolve_ep(wl.layer_shape, ctx.world_size)
    check = _verifier(ctx, arm, log_dir)
    with _precision_mode(opts.precision):
        tr = trainer_class(opts)(ctx, opts, wl)
        (_serve if args.serve else _bench)(ctx, tr, opts, args, check)
    check(final=True)
    _emit0(ctx, {"ev": "done", **tr.loss_record(), "threads": torch.get_num_threads()})


def _precision_mode(precision: str):
    from raxlab.measure.device import tf32_mode

    return tf32_mode(precision)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    worker_main(lambda: run(args))


if __name__ == "__main__":
    main()
