"""`rax bench ddp WORKLOAD`: the training step under DDP (or FSDP) over N ranks and a transport.

    rax bench ddp tiny-lm --ranks 2                         # gloo over loopback
    rax bench ddp my.yaml --ranks 2 --emulate 1gbit         # root: one rank per namespace, 1 gbit links
    rax bench ddp my.yaml --ranks 8 --transport nccl-ib     # one GPU node, NCCL forced onto IB
"""

from __future__ import annotations

import argparse

from raxlab import fmt
from raxlab.cli.common import add_json, add_store, add_workload, console, emit

COMMAND = ("bench", "ddp")
HELP = "distributed training step (DDP/FSDP): step time, samples/s, scaling efficiency, exposed communication"
ORDER = 45


def add_arguments(p: argparse.ArgumentParser) -> None:
    from raxlab.measure.ddp_options import add_ddp_arguments

    add_workload(p)
    p.add_argument("--ranks", type=int, default=2, help="rank processes on this machine (default 2)")
    p.add_argument("--transport", default="gloo", help="gloo | nccl | nccl-ib | nccl-socket (default gloo)")
    p.add_argument("--emulate", metavar="RATE|TOPOLOGY", default=None,
                   help="root: one rank per network namespace over links shaped to RATE (e.g. 1gbit), or a "
                        "leaf-spine TOPOLOGY, e.g. 'leaf=2:1,uplink=2gbit' or a .yaml file (netemu/topology.py); "
                        "rate only, latency is not emulated")
    p.add_argument("--mtu", type=int, default=None, help="MTU of emulated links (default 9000)")
    add_ddp_arguments(p)
    p.add_argument("--steps", type=int, default=10, help="measured rounds at most (default 10)")
    p.add_argument("--max-seconds", type=float, default=60.0,
                   help="cap on the measured rounds, at least 3 are run (default 60)")
    p.add_argument("--no-baseline", action="store_true", help="skip the 1-rank step (no scaling efficiency)")
    p.add_argument("--no-split", action="store_true", help="skip the no_sync step (no compute/comm split)")
    p.add_argument("--master-port", type=int, default=0, help="rendezvous port (default: ephemeral)")
    add_json(p)
    add_store(p)
    p.epilog = ("Each round times the 1-rank step (rank 0 alone), a synced DDP step and a no_sync step, "
                "interleaved, each the slowest rank's time. Exposed communication = median(synced) - "
                "median(no_sync). The device follows the transport: gloo runs on CPU, NCCL on GPUs.")


def run(args) -> int:
    from raxlab.measure.ddp import run_ddp
    from raxlab.measure.ddp_options import options_from_args

    opts = options_from_args(args, steps=args.steps, max_seconds=args.max_seconds, baseline=not args.no_baseline,
                             split=not args.no_split)
    con = None if args.json else console()
    progress = (lambda ev: con.print(f"  {ev['what']} ...") if ev.get("ev") == "begin" else None) if con else None
    result = run_ddp(opts, ranks=args.ranks, transport=args.transport, emulate=args.emulate, mtu=args.mtu,
                     master_port=args.master_port, store=args.store, on_event=progress)
    emit(args, result.to_dict(), _render)
    from raxlab.measure.busyness import warn_stored

    warn_stored(result.store_path, result.run_id)  # other work through the run: said, not only stored
    return 0


def _ms(v) -> str:
    return fmt.seconds(v, 4)


def _pct(v) -> str:
    return fmt.pct(v)


def _render(r: dict) -> None:
    from rich.table import Table

    d, s, p = r["derived"], r["setup"], r["params"]
    link = f", emulated {p['emulate']} links" if p.get("emulate") else ""
    t = Table(title=f"{p['workload']}: {s.get('wrapper')} on {p['ranks']} ranks over {p['transport']}{link}, "
                    f"batch {s.get('batch_per_rank')}/rank, {p['precision']} (measured here)")
    for col in ("step", "rounds", "median", "IQR", "p95", "noisy"):
        t.add_column(col)
    for key, name in (("step", "ddp step (synced)"), ("nosync_step", "ddp no_sync step"),
                      ("single_step", "1-rank step")):
        st = d.get(key)
        if st:
            t.add_row(name, str(st["n"]), _ms(st["median"]), _ms(st["iqr"]), _ms(st["p95"]),
                      "yes" if st["noisy"] else "no")
    con = console()
    con.print(t)
    _print_derived(con, d, s)
    _print_ep(con, d)
    kinds = sorted({i.get("kind", "?") for i in r["transport"].values()})
    wall = f"({r['wall_s']:.1f} s) " if r["wall_s"] else ""
    con.print(f"transport seen: {', '.join(kinds) or 'none recorded'}; run {r['run_id']} {wall}"
              f"stored in {r['store_path']}")


def _print_derived(con, d: dict, s: dict) -> None:
    tok = f", {fmt.g(d['tokens_per_s'])} tokens/s" if d.get("tokens_per_s") else ""
    con.print(f"throughput: {fmt.g(d.get('samples_per_s'))} samples/s{tok}; scaling efficiency "
              f"{_pct(d.get('scaling_efficiency'))} ({d.get('scaling_basis', 'no 1-rank step')})")
    if d.get("exposed_comm_s") is not None:
        lo, hi = d["exposed_comm_share_ci"]
        con.print(f"split: compute {_ms(d['compute_s'])}, exposed communication {_ms(d['exposed_comm_s'])} = "
                  f"{_pct(d['exposed_comm_share'])} of the step (95 % CI {_pct(lo)} to {_pct(hi)})")
        con.print(f"method: {d['split_method']}")
    buckets = s.get("bucket_sizes_bytes")
    how = (f"FSDP over {s.get('fsdp_units')} sharded units" if s.get("fsdp_units") else
           f"bucket_cap_mb {s.get('bucket_cap_mb'):g}" + (f", {len(buckets)} buckets as built" if buckets else ""))
    con.print(f"gradients: {fmt.nbytes(s.get('grad_bytes'))} per step over {fmt.count(s.get('params'))} "
              f"parameters; {how}")


def _print_ep(con, d: dict) -> None:
    """Expert parallel: the all-to-all beside the gradient sync, the bytes and the routing imbalance."""
    ep = d.get("ep")
    if not ep or d.get("exposed_a2a_s") is None:
        return
    imb = (d.get("load_imbalance") or {}).get("median")
    con.print(f"expert parallel: EP {ep['degree']} x EDP {ep['edp']}, {ep['experts_per_rank']} of {ep['experts']} "
              f"experts per rank; exposed all-to-all {_ms(d['exposed_a2a_s'])} = {_pct(d.get('exposed_a2a_share'))} "
              f"of the step, exposed gradient sync {_ms(d.get('exposed_grad_sync_s'))}, waits for slower peers "
              f"{_ms(d.get('ep_wait_s'))} (counted as compute)")
    con.print(f"all-to-all: {d['a2a_bytes_per_step'] / 1e6:.4g} MB per step over all ranks "
              f"({d['a2a_bytes_off_rank_per_step'] / 1e6:.4g} MB to other ranks), "
              f"{d['a2a_calls_per_step']:.0f} calls per rank; load imbalance (max/mean tokens per expert) "
              f"{'N/A' if imb is None else f'{imb:.3g}'}; check: max relative logit error "
              f"{ep['check']['max_rel_logit_error']:.2g} vs the unsharded model")


def render_stored(run: dict) -> None:
    """The same view for a stored run (`rax runs show` can call this for kind "bench.ddp")."""
    arts = run["artifacts"]
    _render({"derived": arts.get("ddp") or {}, "setup": arts.get("ddp_setup") or {}, "params": run["params"],
             "transport": arts.get("ddp_transport") or {}, "run_id": run["id"], "wall_s": 0.0,
             "store_path": "the results store"})
