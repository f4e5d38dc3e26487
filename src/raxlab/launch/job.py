"""The measurement a launch distributes: a `rax bench comm|ddp ...` command line, as a worker.

    job = parse_bench(["rax", "bench", "comm", "-e", "1G", "--transport", "nccl-ib"])
    job.module, job.worker_args, job.transport, job.kind

The command is parsed by the bench command's own argument definitions
(`raxlab.cli.bench_comm` / `bench_ddp`), so every flag means what it means there and is
validated the same way; flags that only make sense on one machine (--ranks, --emulate,
--torchrun, --master-port, --mtu) are refused, since under a launch the ranks are
--nnodes x --nproc-per-node and the network is the cluster's. --store and --json may be
given there or to `rax launch`. The other benches (compute, kernels, io) measure one node:
they run on each node by themselves and are refused with that advice.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from raxlab.errors import RaxError

KINDS = {"comm": "raxlab.measure.comm.worker", "ddp": "raxlab.measure.ddp_worker"}
ONE_NODE = ("compute", "kernels", "io")
# flag -> (attribute, value when not given): placement flags a launch decides itself
REFUSED = {"--ranks": ("ranks", 2), "--emulate": ("emulate", None), "--mtu": ("mtu", None),
           "--torchrun": ("torchrun", False), "--master-port": ("master_port", 0)}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one RaxError line instead of usage + exit
        raise RaxError(f"in the command after --: {message}", field="rax bench")


@dataclass
class Job:
    kind: str  # comm | ddp
    module: str  # the worker module every rank runs
    worker_args: list[str]  # without --ifname (the node decides)
    transport: str
    options: object  # SweepOptions | DdpOptions
    command: list[str]  # the `rax bench ...` command as given
    store: str | None = None
    json: bool = False
    extra: dict = field(default_factory=dict)  # gid_index, ifname (comm's own flags)

    @property
    def gid_index(self) -> int | None:
        return self.extra.get("gid_index")


def _strip_prefix(argv: list[str]) -> list[str]:
    argv = list(argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if argv[:1] and argv[0].rsplit("/", 1)[-1] == "rax":
        argv = argv[1:]
    if argv[:1] != ["bench"] or len(argv) < 2:
        raise RaxError("give the measurement after --, e.g. `rax launch ... -- rax bench comm -e 1G`",
                       field="rax bench")
    return argv[1:]


def given(tokens: list[str], flag: str) -> bool:
    return any(t == flag or t.startswith(flag + "=") for t in tokens)


def _parse(kind: str, tokens: list[str]) -> argparse.Namespace:
    from raxlab.cli import bench_comm, bench_ddp

    p = _Parser(prog=f"rax bench {kind}", add_help=False)
    (bench_comm if kind == "comm" else bench_ddp).add_arguments(p)
    args = p.parse_args(tokens)
    for flag, (attr, unset) in REFUSED.items():
        if getattr(args, attr, unset) != unset:
            raise RaxError(f"{flag} does not apply under rax launch: ranks are --nnodes x --nproc-per-node, "
                           "one torchrun per node, over the cluster's own network", field=flag)
    if getattr(args, "torchrun_args", None):
        raise RaxError(f"unexpected arguments {' '.join(args.torchrun_args)}", field="rax bench")
    return args


def parse_bench(argv: list[str], transport: str | None = None) -> Job:
    """The Job for a `rax bench comm|ddp ...` command; `transport` (launch's --transport) fills in."""
    rest = _strip_prefix(argv)
    kind, tokens = rest[0], rest[1:]
    if kind in ONE_NODE:
        raise RaxError(f"rax bench {kind} measures one node: run it on each node as it is; rax launch "
                       "distributes the multi-node benches (comm, ddp)", field="rax bench")
    if kind not in KINDS:
        raise RaxError(f"rax launch runs `rax bench comm` or `rax bench ddp`, not {kind!r}", field="rax bench")
    args = _parse(kind, tokens)
    if transport and given(tokens, "--transport") and args.transport != transport:
        raise RaxError(f"--transport {transport} (rax launch) and --transport {args.transport} (the bench "
                       "command) disagree; give it once", field="--transport")
    arm = args.transport if given(tokens, "--transport") else (transport or args.transport)
    job = _comm(args, arm) if kind == "comm" else _ddp(args, arm)
    job.command, job.store, job.json = ["rax", "bench", kind, *tokens], args.store, args.json
    return job


def _comm(args, arm: str) -> Job:
    from raxlab.measure.comm import transports
    from raxlab.measure.comm.options import sweep_from_args

    transports.get_arm(arm)
    sweep = sweep_from_args(args, arm)
    extra = {k: v for k, v in (("gid_index", args.gid_index), ("ifname", args.ifname)) if v is not None}
    worker = sweep.to_args() + (["--gid-index", str(args.gid_index)] if args.gid_index is not None else [])
    return Job("comm", KINDS["comm"], worker, arm, sweep, [], extra=extra)


def _ddp(args, arm: str) -> Job:
    from raxlab.measure.comm import transports
    from raxlab.measure.ddp_options import options_from_args

    transports.get_arm(arm)
    opts = options_from_args(args, steps=args.steps, max_seconds=args.max_seconds,
                             baseline=not args.no_baseline, split=not args.no_split)
    return Job("ddp", KINDS["ddp"], opts.to_args() + ["--transport", arm], arm, opts, [])
