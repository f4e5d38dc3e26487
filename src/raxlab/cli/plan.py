"""`rax plan WORKLOAD`: the purchase guideline — what to buy, how many, which network and
precision, what it costs and why — from the workload card, its targets, the catalogue and the
measurements of stored runs (`--run`, a comma list or repeated). Exit code 5 when no candidate
meets every target (the closest one is shown; `rax --help`, README "Exit codes")."""

from raxlab import fmt
from raxlab.cli._catalog import add_catalog_override, load
from raxlab.cli.common import EXIT_NO_PLAN, EXIT_OK, add_artefacts, add_json, add_store, add_workload, console, emit, extend_list, styled, \
    write_artefacts

COMMAND = "plan"
HELP = "recommend what to buy for a workload's targets: GPUs, nodes, fabric, precision, cost, verdicts"
ORDER = 45


def add_arguments(p):
    add_workload(p)
    extend_list(p, "--run", metavar="RUN",
                help="stored runs whose measurements to use (comm fits incl. `rax import nccl-tests`, compute "
                     "calibration, A/B, `rax import train-log` points): a comma list, or repeat the flag")
    extend_list(p, "--target", metavar="KEY=VALUE",
                help="override targets of the workload, e.g. deadline_days=30,budget_usd=5e6 (or repeat the flag)")
    p.add_argument("--measured-fabric", metavar="FABRIC",
                   help="catalogue fabric the --run comm measurement ran on (e.g. roce-200), to apply its fit")
    p.add_argument("--measured-rails", type=int, metavar="N", help="NIC rails per node in that measurement (default 1)")
    s = p.add_argument_group("search space (default: everything in the catalogue)")
    s.add_argument("--accelerators", help="comma list of accelerators to consider")
    s.add_argument("--servers", help="comma list of server designs to consider")
    s.add_argument("--fabrics", help="comma list of fabrics to consider")
    s.add_argument("--max-nodes", type=int, default=None, help="largest node count (default 1024)")
    s.add_argument("--oversubscription", type=float, default=1.0, help="fat-tree taper above the leaf (default 1)")
    s.add_argument("--storage", default=None, help="storage tier for clusters (default parallel-fs-flash)")
    p.add_argument("--out", metavar="FILE", help="also write the plan JSON (the file `rax accept` reads)")
    add_artefacts(p)
    add_catalog_override(p)
    add_json(p)
    add_store(p)


def _list(text):
    return tuple(x.strip() for x in text.split(",") if x.strip()) if text else None


def _options(args):
    from raxlab.plan.cost import CostInputs
    from raxlab.plan.planner import PlanOptions
    from raxlab.plan.space import NODE_LADDER, SpaceOptions

    space = SpaceOptions(accelerators=_list(args.accelerators), servers=_list(args.servers),
                         fabrics=_list(args.fabrics), max_nodes=args.max_nodes or NODE_LADDER[-1])
    cost = CostInputs(oversubscription=args.oversubscription)
    if args.storage:
        cost.storage_cluster = args.storage
    return PlanOptions(space=space, cost=cost)


def run(args) -> int:
    import json

    from raxlab.errors import RaxError
    from raxlab.plan.entry import plan_workload

    if args.oversubscription < 1:
        raise RaxError(f"must be >= 1 (1 = non-blocking), got {args.oversubscription}", field="--oversubscription")
    if args.out:  # a bad --out fails before the search, not after it
        from raxlab.outfile import check_target

        check_target(args.out, field="--out")
    cat = load(args)
    if args.storage:
        cat.storage(args.storage)
    plan = plan_workload(args.workload, cat, runs=args.run, store=args.store, targets=args.target,
                         measured_fabric=args.measured_fabric, measured_rails=args.measured_rails,
                         options=_options(args), trust_code=args.trust_code)
    if args.out:
        from raxlab.outfile import write_file

        write_file(args.out, json.dumps(plan, indent=2, allow_nan=False) + "\n", field="--out")
    write_artefacts(args, plan.get("launch"))
    emit(args, plan, _render)
    return EXIT_OK if (plan.get("recommendation") or {}).get("status") == "meets-all-targets" else EXIT_NO_PLAN


# ---------------------------------------------------------------------------------- rendering
def _money(v):
    from raxlab.plan.text import money

    return money(v)


def _t(v):
    from raxlab.plan.text import duration

    return duration(v)


def _pct(v):
    from raxlab.plan.text import pct

    return pct(v)


def _add(t, *cells) -> None:
    t.add_row(*(str(c) for c in cells))


def _table(title, cols):
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for c in cols:
        t.add_column(c, justify="left" if c in ("fabric", "family", "item", "name", "scenario", "recommendation",
                                                "accelerator", "precision", "label", "caveat", "reason") else "right")
    return t


def _render(plan: dict) -> None:
    out = console()
    w, o = plan["workload"], plan["objective"]
    out.print(styled((f"rax plan {w['ref']}", "bold"), f": {w['task']} {w['params']:,} parameters; "
                     f"{_objective_text(o)}"))
    for k, s in enumerate(plan["guideline"]):
        out.print(s, style="bold") if k == 0 else out.print(f"- {s}")
    for part in (_rec_table, _capex_table, _network_table, _under_load_table, _acceptance_table, _precision_table,
                 _accelerator_table, _scale_table, _sensitivity_table, _pareto_table, _serving_front_table):
        t = part(plan)
        if t is not None:
            out.print(t)
    _footer(out, plan)


def _objective_text(o: dict) -> str:
    bits = []
    if o["work"]:
        bits.append(f"{fmt.count(o['work'])} {o['unit']}")
    if o["deadline_s"]:
        bits.append(f"within {_t(o['deadline_s'])}" + (" (assumed)" if o["deadline_assumed"] else ""))
    if o["rate_required"]:
        bits.append(f">= {fmt.g(o['rate_required'], 3)} {o['unit']}/s")
    if o.get("latency_p99_s"):
        bits.append(f"p99 <= {o['latency_p99_s'] * 1e3:,.4g} ms")
    for key, name in (("ttft_s", "TTFT p99"), ("tpot_s", "TPOT")):
        if o.get(key):
            bits.append(f"{name} <= {_ms(o[key])}")
    caps = o["caps"]
    if caps["budget_usd"]:
        bits.append(f"CAPEX <= {_money(caps['budget_usd'])}")
    if caps["power_w"]:
        bits.append(f"IT power <= {fmt.si(caps['power_w'], 'W')}")
    if caps["rack_units"]:
        bits.append(f"<= {caps['rack_units']:g} U")
    return ", ".join(bits)


def _serving_rows(r) -> list:
    lay = r["layout"]
    return [("layout", f"{lay['replicas']} replicas of tp {lay['tp']} at batch {lay['batch']}"),
            ("p99 latency (projected)", _t(r["p99_latency_s"])),
            ("TTFT p99 / TPOT (projected)", f"{_ms(r['ttft_p99_s'])} / {_ms(r['tpot_s'])}"),
            ("tokens/s (projected)", f"{r['tokens_per_s_per_gpu']:,.0f} per GPU, {r['tokens_per_s_per_user']:,.0f} per "
                                     "user (1 / TPOT); error band N/A"),
            ("capacity (projected)", f"{fmt.g(r['capacity_per_replica_rps'])} requests/s per replica, "
                                     f"{fmt.g(r['rate'])} in all; error band N/A (inference not validated)")]


def _rec_table(plan):
    r = plan["recommendation"]
    t = _table(f"recommendation ({r['status']}: {r['basis']})", ("what", "value"))
    lay = r["layout"]
    if "replicas" in lay:
        rows = [("hardware", f"{r['nodes']} x {r['server']}, {r['gpus']} x {r['accelerator']}"),
                ("network", f"{r['fabric']} x {r['rails']} rails" if r["fabric"] else "none (one node)"),
                ("precision", r["precision"]), *_serving_rows(r),
                ("CAPEX / TCO", f"{_money(r['capex_usd'])} / {_money(r['tco_usd'])}")]
        for k, v in rows:
            _add(t, k, str(v))
        return t
    rows = [("hardware", f"{r['nodes']} x {r['server']}, {r['gpus']} x {r['accelerator']}"),
            ("network", f"{r['fabric']} x {r['rails']} rails ({r['nic']})" if r["fabric"] else "none (one node)"),
            ("precision", r["precision"]),
            ("layout", f"tp {lay['tp']} pp {lay['pp']} dp {lay['dp']}, ZeRO {lay['zero']}, micro-batch "
                       f"{lay['micro_batch']} x {lay['grad_accum']}, recompute {lay['recompute']}"),
            ("time to target (projected)", _t(r["time_to_target_s"]) + (
                f" ({_t(r['time_to_target_band_s'][0])} - {_t(r['time_to_target_band_s'][1])})"
                if r.get("time_to_target_band_s") else "")),
            ("throughput (projected)", f"{fmt.g(r['rate'])} {plan['objective']['unit']}/s, MFU {_pct(r['mfu'])}, "
                                       f"{fmt.nbytes(r['memory_per_gpu_gib'] * 2**30)}/GPU"),
            ("CAPEX / TCO", f"{_money(r['capex_usd'])} / {_money(r['tco_usd'])} ({r['cost_per_unit_label']}: "
                            f"{_money(r['cost_per_unit'])})"),
            ("power / space", f"{fmt.g(r['it_power_kw'])} kW IT average, {fmt.g(r['it_peak_kw'])} kW peak, "
                              f"{fmt.g(r['facility_power_kw'])} kW facility; {r['rack_units'] or 'N/A'} U")]
    for k, v in rows:
        _add(t, k, str(v))
    return t


def _capex_table(plan):
    t = _table("CAPEX lines", ("item", "name", "count", "unit", "total", "label"))
    for ln in plan["recommendation"]["capex_breakdown"]:
        _add(t, ln["item"], ln["name"], f"{ln['count']:,}", _money(ln["unit_usd"]), _money(ln["total_usd"]), ln["label"])
    return t


def _network_table(plan):
    v = plan["verdicts"]["network"]
    if not v["rows"]:
        return None
    moe = any(r.get("all_to_all_share") for r in v["rows"])  # a MoE workload: show the EP all-to-all share
    t = _table(f"network verdict ({v['basis']}) on {v['hardware']['nodes']} x {v['hardware']['accelerator']} nodes "
               f"(tie threshold {_pct(v['tie_threshold'])})",
               ("fabric", "family", "rails", "time", "scaling eff.", "exposed comm", *(("of it all-to-all",) if moe else ()),
                "CAPEX delta", "TCO delta", "cost/unit", "meets"))
    for r in v["rows"]:
        a2a = (_pct(r.get("all_to_all_share")),) if moe else ()
        _add(t, r["fabric"], r["family"], str(r["rails"]), _t(r["time_to_target_s"]), _pct(r["scaling_efficiency"]),
                  _pct(r["exposed_comm_share"]), *a2a, _money(r["capex_delta_usd"]), _money(r["tco_delta_usd"]),
                  _money(r["cost_per_unit"]), "yes" if r["meets_targets"] else "no")
    return t


def _under_load_table(plan):
    """RoCE in both load regimes against the best InfiniBand row (fabric_verdict.under_load)."""
    u = (plan.get("verdicts") or {}).get("network", {}).get("under_load")
    if not u:
        return None
    ib = u["versus"]
    t = _table(f"network under load: RoCE regimes vs {ib['fabric']} x {ib['rails']} (projected; ratio = RoCE step / "
               f"{ib['fabric']} step)", ("fabric", "regime", "ratio", "interval", "basis", "TCO", "tuning", "decision"))
    for r in u["rows"]:
        for name, d in r["by_regime"].items():
            if "ci" not in d:
                _add(t, f"{r['fabric']} x {r['rails']}", name, "N/A", "", "", "", "", d.get("decision"))
                continue
            _add(t, f"{r['fabric']} x {r['rails']}", name, f"{d['projected']['ratio']:.3f}",
                 f"{d['ci'][0]:.3f}-{d['ci'][1]:.3f}", d["basis"], _money(d["tco_usd"]),
                 _money(d["tuning_usd"]) if d["tuning_usd"] else "-",
                 d["decision"] + (f" (next: {d['next_step']['step']})" if d.get("next_step") else ""))
    return t


def _acceptance_table(plan):
    """The plan's `rax accept` thresholds for the fabric (accept/thresholds.py)."""
    rows = ((plan.get("acceptance") or {}).get("thresholds") or {}).get("rows") or []
    if not rows:
        return None
    t = _table("acceptance thresholds (rax accept PLAN): the delivered fabric must reach", (
        "name", "collective", "ranks", "size", "projected", "threshold", "basis"))
    for r in rows:
        _add(t, r["name"], r["collective"], str(r["ranks"]), f"{r['size_bytes'] / 2**20:,.0f} MiB",
             f"{r['projected_GBps']:.4g} GB/s", f">= {r['min_GBps']:.4g} GB/s", r["basis"])
    return t


def _precision_table(plan):
    v = plan["verdicts"]["precision"]
    if plan["objective"]["task"] == "infer":
        t = _table("precision verdict (projected)", ("precision", "replicas", "GPUs", "batch", "p99", "CAPEX"))
        for r in v["rows"]:
            _add(t, r["precision"], r["replicas"], r["gpus"], r["batch"], _t(r["p99_latency_s"]), _money(r["capex_usd"]))
        return t
    t = _table("precision verdict (projected)", ("precision", "time", "speed-up vs bf16", "MFU", "GiB/GPU", "meets",
                                                 "in workload"))
    for r in v["rows"]:
        _add(t, r["precision"], _t(r["time_to_target_s"]), _pct(r["speedup_vs_bf16"]), _pct(r["mfu"]),
                  fmt.g(r['memory_per_gpu_gib'], 3), "yes" if r["meets_targets"] else "no",
                  "yes" if r["in_workload"] else "no")
    return t


def _accelerator_table(plan):
    v = plan["verdicts"]["accelerator"]
    t = _table("accelerator verdict: best by cost per unit of work", ("accelerator", "nodes", "fabric", "precision",
                                                                      "cost/unit", "time", "TCO", "meets"))
    for r in v["rows"]:
        _add(t, r["accelerator"], str(r["nodes"]), str(r["fabric"]), r["precision"], _money(r["cost_per_unit"]),
                  _t(r["time_to_target_s"]), _money(r["tco_usd"]), "yes" if r["meets_targets"] else "no")
    return t


def _scale_table(plan):
    v = plan["verdicts"]["scale"]
    if plan["objective"]["task"] == "infer":
        t = _table("scale verdict: replicas vs load", ("requests/s", "replicas", "GPUs", "nodes"))
        for p in v["points"]:
            _add(t, fmt.g(p['request_rate_per_s']), p["replicas"], p["gpus"], p["nodes"])
        return t
    t = _table(f"scale verdict: {v['design']['accelerator']} on {v['design']['fabric'] or 'one node'}",
               ("nodes", "GPUs", "time", "CAPEX", "TCO", "scaling eff.", "meets"))
    for p in v["points"]:
        mark = " <" if p["nodes"] == v["recommended_nodes"] else ""
        _add(t, f"{p['nodes']}{mark}", str(p["gpus"]), _t(p["time_to_target_s"]), _money(p["capex_usd"]),
                  _money(p["tco_usd"]), _pct(p["scaling_efficiency"]), "yes" if p["meets_targets"] else "no")
    return t


def _sensitivity_table(plan):
    t = _table("sensitivity", ("scenario", "recommendation", "TCO", "time", "meets"))
    for r in plan["sensitivity"]["rows"]:
        _add(t, r["scenario"], r["what_changed"], _money(r["tco_usd"]), _t(r["time_to_target_s"]),
                  "yes" if r["meets_targets"] else "no")
    return t


def _ms(v):
    from raxlab.plan.text import ms

    return ms(v)


def _serving_front_table(plan):
    sv = plan.get("serving") or {}
    p = sv.get("pareto")
    if not p:
        return None
    t = _table(f"serving front: tokens/s per GPU vs per user under the SLA ({p['points_on_front']} of "
               f"{p['meeting_sla']:,} meeting it; projected, band N/A)",
               ("accelerator", "precision", "tp", "batch", "tok/s/GPU", "tok/s/user", "TTFT p99", "TPOT"))
    for r in p["points"][:20]:
        _add(t, r["accelerator"] + (" *" if r["recommended"] else ""), r["precision"], r["tp"], r["batch"],
             f"{r['tokens_per_s_per_gpu']:,.0f}", f"{r['tokens_per_s_per_user']:,.0f}", _ms(r["ttft_p99_s"]),
             _ms(r["tpot_s"]))
    return t


def _pareto_table(plan):
    p = plan["pareto"]
    if plan["objective"]["task"] == "infer":
        t = _table(f"Pareto front: TCO vs p99 latency ({p['points_on_front']} points)",
                   ("accelerator", "nodes", "GPUs", "precision", "p99", "TCO"))
        for r in p["points"][:20]:
            _add(t, r["accelerator"] + (" *" if r["recommended"] else ""), r["nodes"], r["gpus"], r["precision"],
                 _t(r["p99_latency_s"]), _money(r["tco_usd"]))
        return t
    t = _table(f"Pareto front: TCO vs {p['axes'][1]} ({p['points_on_front']} points, {p['shown']} shown)",
               ("accelerator", "nodes", "fabric", "rails", "precision", "time", "TCO", "meets"))
    for r in p["points"][:20]:
        _add(t, r["accelerator"] + (" *" if r["recommended"] else ""), str(r["nodes"]), str(r["fabric"]), str(r["rails"]),
                  r["precision"], _t(r["time_to_target_s"]), _money(r["tco_usd"]), "yes" if r["meets_targets"] else "no")
    return t


def _footer(out, plan):
    pr, s = plan["pruned"], plan["search"]
    if "candidates_covered" in s:
        out.print(f"searched {s['candidates_covered']:,} candidates ({s['candidates_evaluated']:,} evaluated) in "
                  f"{s['wall_s']:.2f} s")
    out.print("pruned: " + ", ".join(f"{k} {v:,}" for k, v in {**pr['hardware'], **pr['layouts']}.items()))
    for a in plan["assumptions"]:
        out.print(f"- {a}", style="dim")
