"""Inference sizing: replicas from the per-replica capacity at the p99 latency bound.

For every accelerator × server × precision (the same `space` as training, same pruning) and
every tensor-parallel width that fits one node, each decode batch is projected with
`predict.inference.serve` (prefill + decode roofline, KV cache, TP all-reduces) and its memory
with `serving_memory`. A replica's p99 latency at batch b is taken as its request latency
(time to first token + generated tokens × time per token) plus one prefill (a request arriving
mid-prefill waits for it before joining the batch; continuous batching). Its capacity at the
bound is the largest b/latency over the batches that fit in memory and meet the bound, derated
to `serving_utilisation` so queues stay short. Replicas = ceil(request rate / capacity);
they are packed onto nodes (tp divides the node). Replicas never talk to each other, so the
scale-out network only carries requests: the cheapest fabric of one rail is costed.
Inference projections have no published validation yet: no error band (N/A), and the plan says so.
"""

from __future__ import annotations

import math

import numpy as np

from raxlab.errors import RaxError
from raxlab.plan import verdicts
from raxlab.plan.cost import network, option_costs
from raxlab.plan.defaults import default
from raxlab.plan.options import Options, Scenario, choose
from raxlab.plan.search import LAYOUT_COLS, SearchResult
from raxlab.plan.serve_sla import meets_sla, serving_block, ttft_p99
from raxlab.plan.space import SINGLE_NODE, build_space
from raxlab.plan.text import duration, jsonable, money, ms, pct, plural
from raxlab.predict import priors
from raxlab.predict.api import dtype_bytes
from raxlab.predict.hardware import stack_hardware, take
from raxlab.predict.inference import serve, serving_memory

BATCHES = tuple(2**k for k in range(10))  # 1 ... 512 concurrent sequences per replica


def _tps(shape, g: int) -> list[int]:
    kv = shape.kv
    return [t for t in range(1, g + 1) if g % t == 0 and shape.heads % t == 0 and not (t > kv and t % kv)]


def _grid(space, shape, prompt: int, gen: int, obj):
    """Every (base, tp, batch) evaluated at once; returns row arrays and the outputs (SLA: serve_sla.py)."""
    rows = [(bi, t, b) for bi, base in enumerate(space.bases) for t in _tps(shape, base.g) for b in BATCHES]
    if not rows:
        return None
    a = np.array(rows, float)
    bi, tp, batch = a[:, 0].astype(int), a[:, 1], a[:, 2]
    consts = [base.consts(SINGLE_NODE) for base in space.bases]
    hc = take(stack_hardware(consts), bi)
    wb = np.array([dtype_bytes(b.precision) for b in space.bases])[bi]
    kvb = np.maximum(wb, 2.0)
    perf = serve(shape, hc, tp, batch, prompt, gen, wb, kvb)
    memory = serving_memory(shape, tp, batch, prompt + gen, wb, kvb, priors.scalar("memory", "workspace_bytes").value)
    usable = np.asarray(hc.mem_bytes) * priors.scalar("memory", "usable_fraction").value
    p99 = perf["request_latency_s"] + perf["ttft_s"]
    ttft = ttft_p99(perf["ttft_s"])
    fits = memory["total"] <= usable
    ok = meets_sla(fits, p99=p99, ttft=ttft, tpot=perf["tpot_s"], obj=obj)
    return {"base": bi, "tp": tp, "batch": batch, "p99": p99, "fits": fits, "ok": ok, "memory": memory["total"],
            "cap": batch / perf["request_latency_s"], "tok": perf["output_tokens_per_s"], "ttft": perf["ttft_s"],
            "tpot": perf["tpot_s"], "ttft_p99": ttft, "per_gpu": perf["tokens_per_s_per_gpu"],
            "per_user": perf["tokens_per_s_per_user"]}


def _best_per_replica(grid, space, rate: float, util: float, pruned) -> list[dict]:
    """Per (base, tp): the batch with the most capacity within the bound, and the replicas needed."""
    out = []
    for key in dict.fromkeys(zip(grid["base"].tolist(), grid["tp"].tolist())):
        idx = np.flatnonzero((grid["base"] == key[0]) & (grid["tp"] == key[1]))
        if not grid["fits"][idx].any():
            pruned["memory does not fit at any batch"] += 1
            continue
        ok = idx[grid["ok"][idx]]
        if not len(ok):
            pruned["misses the latency SLA (p99 / TTFT / TPOT) at every batch"] += 1
            continue
        j = int(ok[np.argmax(grid["cap"][ok])])
        cap = float(grid["cap"][j]) * util
        replicas = max(1, math.ceil(rate / cap))
        g = space.bases[key[0]].g
        out.append({"base": key[0], "tp": int(key[1]), "batch": int(grid["batch"][j]), "replicas": replicas,
                    "nodes": math.ceil(replicas * key[1] / g), "p99": float(grid["p99"][j]), "cap": cap,
                    "memory": float(grid["memory"][j]), "tok": float(grid["tok"][j]) * replicas,
                    "ttft": float(grid["ttft"][j]), "tpot": float(grid["tpot"][j]),
                    "ttft_p99": float(grid["ttft_p99"][j])})
    return out


def _frontend(cat, space, base, nodes: int, cache: dict):
    """The cheapest one-rail fabric variant for request traffic (single node: none)."""
    if nodes == 1:
        return SINGLE_NODE
    best, cost = None, math.inf
    for v in space.variants.get(base.pair, []):
        if v.rails != 1:
            continue
        try:
            c = network(cat, v.fabric, nodes, 1.0, cache, base.srv.spec.node_leaf_link)[0]
        except RaxError:
            continue
        if c < cost:
            best, cost = v, c
    return best


def _result(space, picks: list[dict], cat) -> SearchResult:
    variants = [SINGLE_NODE]
    cols = {k: [] for k in ("base", "nodes", "gpus", "variant", "step_time_s", "samples_per_s", "tokens_per_s", "mfu",
                            "memory_bytes", "comm_s", "net_comm_s", "a2a_s", "p99_s", "ttft_p99_s", *LAYOUT_COLS)}
    cache: dict = {}
    for p in picks:
        base = space.bases[p["base"]]
        v = _frontend(cat, space, base, p["nodes"], cache)
        if v is None:
            continue
        variants.append(v)
        vals = {"base": p["base"], "nodes": p["nodes"], "gpus": p["replicas"] * p["tp"], "variant": len(variants) - 1,
                "step_time_s": p["tpot"], "samples_per_s": p["replicas"] * p["cap"], "tokens_per_s": p["tok"],
                "mfu": math.nan, "memory_bytes": p["memory"], "comm_s": 0.0, "net_comm_s": 0.0, "a2a_s": 0.0,
                "p99_s": p["p99"], "ep": 1, "etp": 0, "cp": 1,
                "ttft_p99_s": p["ttft_p99"],
                "tp": p["tp"], "pp": 1, "dp": p["replicas"], "mb": p["batch"], "zero": 0, "recompute": 0, "sp": 0, "vpp": 1}
        for k, val in vals.items():
            cols[k].append(val)
    return SearchResult({k: np.array(v, float) for k, v in cols.items()}, variants)


def make_serving_plan(spec, card, cat, obj, *, workload_ref, measured, options) -> dict:
    from raxlab.predict.shape import shape_from_card

    shape = shape_from_card(card, seq=spec.seq_len)
    if shape is None:
        raise RaxError("serving projection needs a transformer (the card has no layer shape)", field="workload")
    gen = options.gen_tokens or int(default("serving_gen_tokens").value)
    util = default("serving_utilisation").value
    space = build_space(cat, list(spec.precisions), options.space, measured.calibrations, measured.fabric_fits)
    grid = _grid(space, shape, shape.seq, gen, obj)
    pruned = space.pruned
    picks = _best_per_replica(grid, space, obj.request_rate, util, pruned) if grid else []
    res = _result(space, picks, cat)
    opts = Options(space, res, option_costs(cat, space, res, obj, card, options.cost), obj, 1)
    if not len(opts):
        raise RaxError("no candidate can serve this workload at the bound: " + ", ".join(
            f"{k} ({v:,})" for k, v in pruned.most_common(3)), field=_sla_field(obj))
    plan = _serving_plan(spec, card, cat, obj, space, opts, shape, gen, util, workload_ref, measured, options)
    r = plan["recommendation"]
    pick = (r["accelerator"], r["server"], r["precision"], r["layout"]["tp"], r["batch"])
    plan["serving"] = serving_block(grid, space, obj, prompt=shape.seq, gen=gen, pick=pick)
    return jsonable(plan)


def _sla_field(obj) -> str:
    """The target to name when nothing meets the bounds (the first one given)."""
    given = [f for f, v in (("latency_p99_ms", obj.latency_p99_s), ("ttft_ms", obj.ttft_s), ("tpot_ms", obj.tpot_s))
             if v]
    return f"targets.{given[0] if given else 'latency_p99_ms'}"


def _serving_plan(spec, card, cat, obj, space, opts, shape, gen, util, ref, measured, options) -> dict:
    from raxlab.plan.detail import breakdown
    from raxlab.plan.schema import LABELS, SCHEMA

    i, m = choose(opts)
    i = verdicts.safest_precision(opts, m, i, 0.0) if m["meets"][i] else i
    row = _serving_row(opts, m, i)
    ctx = _Ctx(cat, opts, options, spec)
    row["capex_breakdown"] = breakdown(ctx, i)
    row["status"] = "meets-all-targets" if row["meets_targets"] else "closest"
    row["basis"] = "cheapest total cost (TCO) serving the request rate within the latency bounds (p99, TTFT, TPOT)"
    plan = {"schema": SCHEMA, "workload": _wl(spec, card, ref), "objective": obj.to_dict(), "recommendation": row,
            "verdicts": {"network": _network(opts, i), "precision": _precision(opts, m, i),
                         "accelerator": verdicts.accelerator_verdict(opts, m, i), "scale": _scale(opts, m, i)},
            "pareto": _pareto(opts, m, i), "alternatives": [], "sensitivity": _sensitivity(opts, i),
            "pruned": {"hardware": dict(space.pruned), "layouts": {}, "options_without_a_layout": 0},
            "search": {"hardware_bases": len(space.bases), "priced_options": len(opts), "batches": list(BATCHES)},
            "measured": measured.to_dict(), "labels": LABELS,
            "assumptions": obj.assumptions + _serving_assumptions(shape, gen, util) + measured.notes}
    plan["acceptance"] = {"workload": ref or spec.name, **{k: row[k] for k in (
        "accelerator", "server", "nodes", "gpus", "fabric", "rails", "precision", "layout")},
        "projected": {"p99_latency_s": row["p99_latency_s"], "capacity_per_replica_rps": row["capacity_per_replica_rps"],
                      "ttft_p99_s": row["ttft_p99_s"], "tpot_s": row["tpot_s"],
                      "tokens_per_s_per_gpu": row["tokens_per_s_per_gpu"],
                      "tokens_per_s_per_user": row["tokens_per_s_per_user"], "error_band": None}, "label": "projected"}
    plan["guideline"] = _guideline(plan)
    return plan


class _Ctx:  # the slice of the training context `detail.breakdown` reads
    def __init__(self, cat, opts, options, spec):
        self.cat, self.opts, self.options, self.spec = cat, opts, options, spec


def _serving_row(opts, m, i: int) -> dict:
    row = opts.row(i, m)
    c = opts.c
    row.update(replicas=int(c["dp"][i]), batch=int(c["mb"][i]), p99_latency_s=float(c["p99_s"][i]),
               ttft_p99_s=float(c["ttft_p99_s"][i]), tpot_s=float(c["step_time_s"][i]),
               tokens_per_s_per_gpu=float(c["tokens_per_s"][i] / c["gpus"][i]),
               tokens_per_s_per_user=1.0 / float(c["step_time_s"][i]),
               capacity_per_replica_rps=float(c["samples_per_s"][i] / c["dp"][i]),
               layout={"tp": int(c["tp"][i]), "replicas": int(c["dp"][i]), "batch": int(c["mb"][i])},
               error_band=None)
    return row


def _wl(spec, card, ref) -> dict:
    return {"ref": ref or spec.name, "name": spec.name, "task": spec.task, "kind": card.kind, "params": card.params,
            "seq_len": spec.seq_len, "precisions": list(spec.precisions)}


def _serving_assumptions(shape, gen: int, util: float) -> list[str]:
    return [f"requests: {shape.seq}-token prompt, "
            + default("serving_gen_tokens").note("generated tokens", f"{gen}"),
            default("serving_utilisation").note("replica utilisation", f"{util:g}"),
            "p99 latency = request latency at the batch + one prefill (a request waits for an in-flight prefill); "
            "TTFT (p99) = two prefills of the batch by the same rule; TPOT = one decode step at the mean context",
            "tokens/s per GPU = output tokens/s of a replica / its GPUs; tokens/s per user = 1 / TPOT",
            "inference projections are not validated against published results yet: no error band (N/A)"]


def _network(opts, i: int) -> dict:
    fabric = opts.k["fabric"][i]
    s = ("Each replica runs inside one node (tensor parallel within the node), so no GPU traffic crosses nodes: "
         + ("one node serves the load; no scale-out fabric is needed." if fabric is None else
            f"the network only carries requests and the cheapest fabric ({fabric}, 1 rail) does; "
            "InfiniBand or RoCE would not change the latency."))
    return {"basis": "projected", "decision": "no-gpu-traffic-between-nodes", "rows": [], "recommended_fabric": fabric,
            "recommended_rails": int(opts.k["rails"][i]), "sentence": s}


def _precision(opts, m, i: int) -> dict:
    acc, srv = opts.key(i)[:2]
    rows = []
    for j in opts.where(accelerator=acc, server=srv):
        if int(opts.c["tp"][j]) == int(opts.c["tp"][i]):
            r = _serving_row(opts, m, int(j))
            rows.append({k: r[k] for k in ("precision", "replicas", "gpus", "batch", "p99_latency_s",
                                           "capacity_per_replica_rps", "capex_usd", "tco_usd")})
    rec = opts.key(i)[2]
    best = min(rows, key=lambda r: r["tco_usd"])
    s = (f"{rec}: {best['precision']} needs the fewest GPUs ({best['gpus']}) at this tensor-parallel width"
         if best["precision"] != rec else f"{rec} serves the load at the lowest cost on {acc}")
    if any(r["precision"] == "fp8" for r in rows) and rec != "fp8":
        f8 = next(r for r in rows if r["precision"] == "fp8")
        s += f"; fp8 weights would need {f8['gpus']} GPUs ({verdicts.CAVEATS['fp8']})"
    return {"recommended": rec, "rows": rows, "sentence": s + "."}


def _scale(opts, m, i: int) -> dict:
    cap, tp, g = float(opts.c["samples_per_s"][i] / opts.c["dp"][i]), int(opts.c["tp"][i]), opts.base[i].g
    pts = []
    for f in (0.5, 1.0, 2.0, 4.0):
        reps = max(1, math.ceil(opts.obj.request_rate * f / cap))
        pts.append({"request_rate_per_s": opts.obj.request_rate * f, "replicas": reps, "gpus": reps * tp,
                    "nodes": math.ceil(reps * tp / g)})
    s = (f"One replica ({tp} GPU{'s' if tp > 1 else ''}) serves {cap:.3g} requests/s within the bound; "
         f"the load needs {plural(pts[1]['replicas'], 'replica')} on {plural(pts[1]['nodes'], 'node')}, "
         f"twice the load {pts[2]['replicas']}.")
    return {"points": pts, "recommended_nodes": int(opts.c["nodes"][i]), "sentence": s,
            "design": {"accelerator": opts.key(i)[0], "fabric": opts.key(i)[4]}}


def _pareto(opts, m, i: int) -> dict:
    order = np.lexsort((opts.c["p99_s"], m["tco"]))
    keep, best = [], np.inf
    for j in order:
        if opts.c["p99_s"][j] < best * 0.99:
            keep.append(int(j))
            best = opts.c["p99_s"][j]
    pts = [{**{k: r[k] for k in ("accelerator", "server", "nodes", "gpus", "fabric", "rails", "precision", "capex_usd",
                                 "tco_usd", "meets_targets")}, "p99_latency_s": float(opts.c["p99_s"][j]),
            "time_to_target_s": None, "recommended": j == i} for j in keep for r in [opts.row(j, m)]]
    return {"axes": ["tco_usd", "p99_latency_s"], "points": pts, "points_on_front": len(pts), "shown": len(pts),
            "recommended_on_front": i in keep}


def _sensitivity(opts, i: int) -> dict:
    from raxlab.plan.sensitivity import _diff, _short

    base, rows = _short(opts, i), []
    for name, sc in [(f"all hardware prices {(f - 1) * 100:+.0f} %", Scenario(prices=dict.fromkeys(
            ("servers", "nics", "network", "storage"), f))) for f in (0.8, 1.2)] + \
            [(f"electricity {(f - 1) * 100:+.0f} %", Scenario(energy=f)) for f in (0.8, 1.2)]:
        j, m = choose(opts, sc)
        rows.append({"kind": "prices", "scenario": name, "recommendation": _short(opts, j),
                     "changed": _short(opts, j) != base, "what_changed": _diff(base, _short(opts, j)),
                     "tco_usd": float(m["tco"][j]), "time_to_target_s": None, "meets_targets": bool(m["meets"][j])})
    moved = [r for r in rows if r["changed"]]
    s = ("The recommendation holds when prices move ±20 %" if not moved else
         "Price moves change the recommendation: " + "; ".join(f"{r['scenario']}: {r['what_changed']}" for r in moved))
    return {"rows": rows, "sentence": s + "; no efficiency band for inference (not validated yet)."}


def _guideline(plan: dict) -> list[str]:
    r, v = plan["recommendation"], plan["verdicts"]
    o = plan["objective"]
    bound = f" within a p99 of {duration(o['latency_p99_s'])}" if o.get("latency_p99_s") else ""
    slas = [f"{name} {ms(o[k])}" for k, name in (("ttft_s", "TTFT"), ("tpot_s", "TPOT")) if o.get(k)]
    bound += f" (SLA: {', '.join(slas)})" if slas else ""
    head = (f"Buy {r['nodes']} x {r['server']} ({r['gpus']} {r['accelerator']}, {r['precision']}) to serve "
            f"{o['request_rate_per_s']:g} requests/s{bound}: {plural(r['replicas'], 'replica')} of tp {r['layout']['tp']} at "
            f"batch {r['batch']}, p99 {duration(r['p99_latency_s'])}, TTFT {ms(r['ttft_p99_s'])}, TPOT "
            f"{ms(r['tpot_s'])} ({r['tokens_per_s_per_gpu']:,.0f} tokens/s per GPU, {r['tokens_per_s_per_user']:,.0f} "
            f"per user), each {r['capacity_per_replica_rps']:.3g} requests/s "
            f"(at {pct(default('serving_utilisation').value)} utilisation); CAPEX {money(r['capex_usd'])}, "
            f"TCO {money(r['tco_usd'])}.")
    return [head, v["network"]["sentence"], v["precision"]["sentence"], v["accelerator"]["sentence"],
            v["scale"]["sentence"], plan["sensitivity"]["sentence"],
            "Confidence: inference projections have no validated error band yet (N/A)."]
