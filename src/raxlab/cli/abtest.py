"""`rax abtest WORKLOAD --arm NAME=SPEC --arm NAME=SPEC`: does the faster network pay?

    rax abtest my.yaml --arm fast=emulate:4gbit --arm slow=emulate:1gbit     # root, one machine
    rax abtest my.yaml --arm ib=nccl-ib --arm tcp=nccl-socket --ranks 8 \\
        --arm-fabric ib=ib-ndr --arm-fabric tcp=tcp-100                     # priced from the catalogue
"""

from __future__ import annotations

import argparse

from raxlab import fmt
from raxlab.cli.common import add_json, add_store, add_workload, console, emit, styled

COMMAND = "abtest"
HELP = "A/B test of network set-ups on the real training step: interleaved, significance, verdict, cost"
ORDER = 50


def add_arguments(p: argparse.ArgumentParser) -> None:
    from raxlab.measure.ddp_options import add_ddp_arguments

    add_workload(p)
    p.add_argument("--arm", action="append", metavar="NAME=SPEC", required=True,
                   help="an arm (two or more): SPEC = transport (gloo, nccl, nccl-ib, nccl-socket) and/or "
                        "emulate:RATE joined by '+', e.g. slow=gloo+emulate:1gbit")
    p.add_argument("--ranks", type=int, default=2, help="ranks per arm (default 2)")
    p.add_argument("--reps", type=int, default=7, help="repetitions per arm, interleaved A B A B ... (default 7)")
    p.add_argument("--steps", type=int, default=3, help="timed rounds per repetition (default 3)")
    p.add_argument("--rep-warmup", type=int, default=1, help="untimed rounds before each repetition (default 1)")
    p.add_argument("--threshold", type=float, default=0.05,
                   help="decision threshold as a fraction of step time (default 0.05 = 5 %%)")
    p.add_argument("--alpha", type=float, default=0.01, help="significance level of Mann-Whitney U (default 0.01)")
    p.add_argument("--arm-fabric", action="append", metavar="NAME=FABRIC",
                   help="price arm NAME as this catalogue fabric (rax catalog list fabric)")
    p.add_argument("--arm-price", action="append", metavar="NAME=USD", help="declared price of arm NAME")
    p.add_argument("--node-price", type=float, default=None,
                   help="declared price per node, added to catalogue fabric prices (default: network only)")
    p.add_argument("--horizon-years", type=float, default=3.0, help="amortisation horizon of costs (default 3)")
    add_ddp_arguments(p)
    p.add_argument("--no-split", action="store_true", help="skip the no_sync steps (no exposed-comm share)")
    add_json(p)
    add_store(p)
    p.epilog = ("Verdict: an arm is materially slower than the fastest only if Mann-Whitney p < alpha and the "
                "whole 95 % CI of the ratio of medians lies above 1 + threshold; otherwise it is a tie. The "
                "recommendation is the cheapest arm that ties with the fastest. Cheaper = by price when every "
                "arm has one, else the slower emulated link, else TCP before RDMA, else the order given.")


def run(args) -> int:
    from raxlab.measure.abtest import AbOptions, run_abtest
    from raxlab.measure.abtest_arms import mapping, parse_arms, price_arms
    from raxlab.measure.ddp_options import options_from_args

    arms = parse_arms(args.arm)
    notes = price_arms(arms, mapping(args.arm_fabric, arms, "--arm-fabric"),
                       mapping(args.arm_price, arms, "--arm-price"), servers=args.ranks,
                       node_price_usd=args.node_price)
    opts = options_from_args(args, steps=args.steps, baseline=False, split=not args.no_split)
    ab = AbOptions(reps=args.reps, steps=args.steps, rep_warmup=args.rep_warmup, threshold=args.threshold,
                   alpha=args.alpha, horizon_years=args.horizon_years)
    con = None if args.json else console()
    result = run_abtest(opts, arms, ab, ranks=args.ranks, store=args.store, notes=notes,
                        on_event=_progress(con) if con else None)
    emit(args, result.to_dict(), _render)
    return 0


def _progress(con):
    def show(ev):
        if ev.get("ev") == "rep_stored":
            share = ev.get("exposed_comm_share")
            con.print(f"  {ev['arm']:>10} rep {ev['rep']}: {ev['median_s'] * 1e3:.4g} ms"
                      + (f" (exposed comm {share:.0%})" if share is not None else ""))
        elif ev.get("ev") == "ready":
            con.print(f"  {ev['arm']:>10} warmed up")
    return show


def _f(v, spec: str, scale: float = 1.0, unit: str = "") -> str:
    """Through the one formatter (`spec` says the kind: % share, money, or a plain number)."""
    if v is None:
        return fmt.NA
    if spec.endswith("%"):
        return fmt.pct(v * scale)
    if unit.strip() == "$":
        return fmt.usd(v * scale)
    return fmt.g(v * scale, 4) + unit


def _render(r: dict) -> None:
    from rich.table import Table

    a, con = r["analysis"], console()
    t = Table(title=f"A/B {r['params']['workload']} on {r['params']['ranks']} ranks, batch "
                    f"{r['params']['batch']}/rank (measured here, run {r['run_id']})")
    for col in ("arm", "spec", "reps", "median step", "IQR", "exposed comm", "samples/s", "price", "$/M units"):
        t.add_column(col)
    for arm in a["arms"].values():
        t.add_row(arm["name"], arm.get("spec", ""), str(arm["reps"]), _f(arm.get("median_s"), ".4g", 1e3, " ms"),
                  _f(arm.get("iqr_s"), ".3g", 1e3, " ms"), _f(arm.get("exposed_comm_share"), ".1%"),
                  _f(arm.get("samples_per_s"), ".4g"), _f(arm.get("price_usd"), ",.0f", unit=" $"),
                  _f(arm.get("usd_per_million"), ".4g"))
    con.print(t)
    v = a["verdict"]
    for c in v["comparisons"]:
        con.print(f"{c['arm']} / {c['versus']}: ratio of medians {c['ratio']:.3f} (95 % CI {c['ci'][0]:.3f}-"
                  f"{c['ci'][1]:.3f}), Mann-Whitney p = {c['p_value']:.2g} (alpha {c['alpha']:.2g})"
                  + ("" if c["materially_slower"] else f"; tie: {'; '.join(c['reasons'])}"))
    con.print(styled((f"verdict: {v['verdict']}", "bold"), f" -> {v['recommended']} (cheaper by {v['cost_basis']}: "
                     f"{' < '.join(a['cost_order'])}; threshold {v['threshold']:.0%})"))
    for line in [a.get("cost_note")] + v.get("warnings", []) + a.get("notes", []):
        if line:
            con.print(f"note: {line}")
    con.print(f"wall time {r['wall_s']:.1f} s; stored in {r['store_path']} (rax runs show {r['run_id']})")


def render_stored(run: dict) -> None:
    """The same view for a stored run (`rax runs show` can call this for kind "abtest")."""
    a = run["artifacts"].get("abtest_analysis") or {}
    if not a.get("verdict"):
        console().print(f"A/B run {run['id']} has no verdict ({run['status']}): "
                        f"{'; '.join(a.get('notes', [])) or 'no analysis stored'}")
        return
    _render({"analysis": a, "params": run["params"], "run_id": run["id"], "wall_s": a.get("wall_s") or 0.0,
             "store_path": "the results store"})
