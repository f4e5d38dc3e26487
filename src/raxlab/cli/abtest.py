"""`rax abtest WORKLOAD --arm NAME=SPEC --arm NAME=SPEC`: does the faster network pay?

    rax abtest my.yaml --arm fast=emulate:4gbit --arm slow=emulate:1gbit     # root, one machine
    rax abtest my.yaml --ranks 4 --arm flat=emulate:leaves=2,nic=1gbit \\
        --arm taper=emulate:leaves=2,nic=1gbit,leaf=4:1 --max-minutes 5      # leaf-spine, tapered uplinks
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
                        "emulate:RATE or emulate:TOPOLOGY joined by '+', e.g. slow=gloo+emulate:1gbit or "
                        "taper=emulate:nodes=4,leaves=2,nic=1gbit,leaf=4:1")
    p.add_argument("--ranks", type=int, default=2, help="ranks per arm (default 2)")
    p.add_argument("--reps", type=int, default=40,
                   help="most rounds (one repetition per arm each, A B then B A ...); the run stops at the first "
                        "decision (default 40)")
    p.add_argument("--min-reps", type=int, default=4, help="rounds before the first look at the verdict (default 4)")
    p.add_argument("--max-minutes", type=float, default=10.0,
                   help="budget of the whole run; at its end an undecided A/B is reported inconclusive (default 10)")
    p.add_argument("--steps", type=int, default=3, help="timed rounds per repetition (default 3)")
    p.add_argument("--rep-warmup", type=int, default=1, help="untimed rounds before each repetition (default 1)")
    p.add_argument("--threshold", type=float, default=0.05,
                   help="equivalence band and decision threshold as a fraction of step time (default 0.05 = 5 %%)")
    p.add_argument("--alpha", type=float, default=0.05,
                   help="one-sided level of each equivalence test over all looks (default 0.05: a 90 %% interval)")
    p.add_argument("--spending", default="obrien-fleming", choices=("obrien-fleming", "pocock"),
                   help="alpha-spending function over the sequential looks (default obrien-fleming: strict at the "
                        "first looks; pocock stops a clear difference earlier)")
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
    p.epilog = ("Verdict (TOST equivalence on paired rounds): an arm is materially slower than the fastest when the "
                "interval of the ratio of paired step times lies above 1 + threshold, equivalent (a proven tie) when "
                "it lies inside 1 +- threshold, otherwise inconclusive, with how many more rounds would likely settle "
                "it. The recommendation is the cheapest arm equivalent to the fastest. Cheaper = by price when every "
                "arm has one, else the slower emulated link or fabric capacity, else TCP before RDMA, else the order "
                "given.")


def run(args) -> int:
    import sys
    from pathlib import Path

    from raxlab.measure.abtest import AbOptions, run_abtest
    from raxlab.measure.abtest_arms import mapping, parse_arms, price_arms
    from raxlab.measure.ddp_options import options_from_args

    arms = parse_arms(args.arm, ranks=args.ranks)
    notes = price_arms(arms, mapping(args.arm_fabric, arms, "--arm-fabric"),
                       mapping(args.arm_price, arms, "--arm-price"), servers=args.ranks,
                       node_price_usd=args.node_price)
    opts = options_from_args(args, steps=args.steps, baseline=False, split=not args.no_split)
    if Path(opts.workload).is_file():  # stored as given: the report's reproduce line must run from anywhere
        opts.workload = str(Path(opts.workload).resolve())
    ab = AbOptions(reps=args.reps, min_reps=args.min_reps, max_minutes=args.max_minutes, steps=args.steps,
                   rep_warmup=args.rep_warmup, threshold=args.threshold, alpha=args.alpha, spending=args.spending,
                   horizon_years=args.horizon_years, node_price_usd=args.node_price).validate()
    print(f"rax: A/B of {len(arms)} arms x {args.ranks} ranks: at most {ab.max_minutes:g} min (--max-minutes) and "
          f"{ab.reps} rounds; the wall-time estimate follows the first round", file=sys.stderr)
    con = None if args.json else console()
    result = run_abtest(opts, arms, ab, ranks=args.ranks, store=args.store, notes=notes,
                        on_event=_progress(con))
    emit(args, result.to_dict(), _render)
    return 0


def _progress(con):
    import sys

    def say(text: str) -> None:
        if con is not None:
            con.print(text, markup=False, highlight=False)

    def show(ev):
        kind = ev.get("ev")
        if kind == "rep_stored":
            share = ev.get("exposed_comm_share")
            say(f"  {ev['arm']:>10} rep {ev['rep']}: {ev['median_s'] * 1e3:.4g} ms"
                + (f" (exposed comm {share:.0%})" if share is not None else ""))
        elif kind == "ready":
            say(f"  {ev['arm']:>10} warmed up")
        elif kind == "plan":
            print(f"rax: about {ev['round_s']:.3g} s per round: up to {ev['n_max']} rounds, estimated wall time "
                  f"{ev['estimate_s'] / 60:.2g} min if no look decides earlier (looks after {ev['looks']} rounds)",
                  file=sys.stderr)
            for note in ev.get("notes") or []:
                print(f"rax: warning: {note}", file=sys.stderr)
        elif kind == "look":
            cmp = "; ".join(f"{c['arm']} {c['ratio']:.3f} [{c['ci'][0]:.3f}, {c['ci'][1]:.3f}] {c['decision']}"
                            for c in ev["comparisons"])
            say(f"  look after {ev['rounds']} rounds: {ev['verdict']} ({cmp})")
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
    v = a.get("verdict") or {}
    con.print(styled((f"verdict: {v.get('verdict')}", "bold"), f" -> {v.get('recommended') or 'none yet'} (cheaper by "
                     f"{v.get('cost_basis')}: {' < '.join(a['cost_order'])}; threshold {v.get('threshold', 0):.0%}, "
                     "measured here)"))
    for c in v.get("comparisons", []):
        con.print(f"{c['arm']} / {c['versus']}: {c['ratio']:.3f}, {c['ci_level']:.3g} interval "
                  f"[{c['ci'][0]:.3f}, {c['ci'][1]:.3f}] over {c['n_pairs']} pairs ({c['sign']['slower']} of them "
                  f"slower), pair noise {c['noise_cv']:.1%}: {c['decision']}; {'; '.join(c['reasons'])}",
                  markup=False, highlight=False)
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
    for line in [a.get("cost_note")] + v.get("warnings", []) + a.get("notes", []):
        if line:
            con.print(f"note: {line}", markup=False, highlight=False)
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
