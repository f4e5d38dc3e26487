"""Precision, accelerator and scale verdicts, each with its numbers and one plain sentence.

- precision: the recommended hardware at each precision the accelerator supports (bf16 and
  fp8 always, fp32/tf32 when the workload lists them), with the speed-up and the numerics
  caveat; a gain inside the tie threshold is not worth a numerics risk;
- accelerator: the best two or three GPU types by cost per unit of work (each at its cheapest
  option meeting the targets, or its best when none does);
- scale: node count against time-to-target and cost for the recommended design (the curve a
  deadline is read from).
The network verdict is in `network.py`; `recommend` ties the search and the network rule.
"""

from __future__ import annotations

import numpy as np

from raxlab.plan import network
from raxlab.plan.cost import rel_change
from raxlab.plan.options import Options, Scenario, choose
from raxlab.plan.text import deadline, duration, money, pct, perf, plural

CAVEATS = {
    "fp8": ("fp8 GEMMs need per-tensor scaling (Transformer Engine-style delayed or current scaling); weights, "
            "optimizer state and attention stay in 16/32 bit as projected; check the loss curve against bf16 on a "
            "short run before committing"),
    "bf16": "bf16 mixed precision: fp32 range, no loss scaling; the usual default on tensor-core GPUs",
    "fp16": "fp16 needs dynamic loss scaling (GradScaler) and can overflow in large models",
    "tf32": "tf32 keeps fp32 range with a 10-bit mantissa in matmuls; numerically close to fp32 for training",
    "fp32": "fp32 is the numerics reference and the slowest",
}


# Numerics risk, least first: a lower precision is chosen only when it buys more than a tie.
SAFETY = ("fp32", "tf32", "bf16", "fp16", "fp8")


def recommend(opts: Options, sc: Scenario | None, tie: float) -> tuple[int | None, dict, str]:
    """The recommendation under a scenario: `choose`, then the network rule at that hardware,
    then the safest precision within the tie threshold of the chosen one's speed."""
    i, m = choose(opts, sc)
    if i is None or not m["meets"][i]:
        return i, m, "closest"
    j, reason = network.pick(opts, m, i, tie)
    return safest_precision(opts, m, j, tie), m, reason


def _safety(p: str) -> int:
    return SAFETY.index(p) if p in SAFETY else len(SAFETY)


def safest_precision(opts: Options, m: dict, i: int, tie: float) -> int:
    """The same hardware at the safest precision that meets the targets within `tie` of option i's speed."""
    acc, srv, prec, nodes, fabric, rails = opts.key(i)
    same = opts.where(accelerator=acc, server=srv, nodes=nodes, fabric=fabric, rails=rails)
    ok = [j for j in same if m["meets"][j] and m["rate"][i] / m["rate"][j] - 1.0 <= tie]
    return int(min(ok, key=lambda j: (_safety(opts.k["precision"][j]), m["tco"][j]))) if ok else i


def precision_verdict(opts: Options, m: dict, i: int, evaluate, workload_precisions, tie: float) -> dict:
    """`evaluate(precision)` -> the best option row of the recommended hardware at that precision, or None."""
    acc, rec_p = opts.key(i)[0], opts.key(i)[2]
    acc_entry = opts.base[i].acc
    wanted = list(dict.fromkeys([*workload_precisions, "bf16", "fp8"]))
    rows = []
    for p in wanted:
        if p not in acc_entry.dtypes:
            continue
        r = opts.row(i, m) if p == rec_p else evaluate(p)
        if r is not None:
            rows.append({"precision": p, "in_workload": p in workload_precisions, "caveat": CAVEATS.get(p, ""),
                         **{k: r[k] for k in ("step_time_s", "time_to_target_s", "rate", "mfu", "memory_per_gpu_gib",
                                              "meets_targets")}})
    ref = next((r for r in rows if r["precision"] == "bf16"), rows[0] if rows else None)
    for r in rows:
        r["speedup_vs_bf16"] = r["rate"] / ref["rate"] - 1.0 if ref else None
    return {"recommended": rec_p, "rows": rows, "tie_threshold": tie,
            "sentence": _precision_sentence(acc, acc_entry, rec_p, rows, tie, opts.obj.unit)}


def _precision_sentence(acc: str, entry, rec_p: str, rows: list[dict], tie: float, unit: str) -> str:
    by = {r["precision"]: r for r in rows}
    caveat = CAVEATS.get(rec_p, "")
    if "fp8" not in entry.dtypes:
        return f"{acc} has no fp8 support in the catalogue: train in {rec_p} ({caveat})."
    f8, b16 = by.get("fp8"), by.get("bf16")
    if not f8 or not b16:
        return f"Train in {rec_p} ({caveat})."
    s = f8["speedup_vs_bf16"]
    if rec_p == "fp8":
        return (f"fp8 is {pct(s)} faster than bf16 on {acc} ({perf(f8, unit)} vs "
                f"{perf(b16, unit)}); caveat: {CAVEATS['fp8']}.")
    if s <= tie:
        return f"fp8 would gain only {pct(s)} over bf16 on {acc}, inside the ±{pct(tie)} tie threshold: stay on {rec_p}."
    if not f8["in_workload"]:
        return (f"fp8 would be {pct(s)} faster than bf16 on {acc} ({perf(f8, unit)} vs "
                f"{perf(b16, unit)}) but is not among the workload's precisions; add it after a "
                f"short loss-curve comparison against bf16. Recommended: {rec_p}.")
    return (f"{rec_p} is recommended: fp8's {pct(s)} gain is not needed to meet the targets at this cost; "
            f"{CAVEATS['fp8']}.")


def accelerator_verdict(opts: Options, m: dict, i: int, top: int = 3) -> dict:
    """Best `top` accelerator types by cost per unit of work (meeting the targets first)."""
    rows = []
    for acc in dict.fromkeys(opts.k["accelerator"]):
        idx = opts.where(accelerator=acc)
        ok = idx[m["meets"][idx]]
        pool = ok if len(ok) else idx
        safety = np.array([_safety(p) for p in opts.k["precision"][pool]])
        j = int(pool[np.lexsort((safety, np.round(m["cost_per_unit"][pool], 12)))[0]])
        r = opts.row(j, m)
        row = {k: r[k] for k in ("accelerator", "server", "nodes", "gpus", "fabric", "rails", "precision",
                                 "cost_per_unit", "time_to_target_s", "capex_usd", "tco_usd", "meets_targets")}
        rows.append(row | _cost_interval(r))
    rows.sort(key=lambda r: (not r["meets_targets"], r["cost_per_unit"]))
    best = rows[:top]
    for r in best:
        r["vs_best"] = rel_change(r["cost_per_unit"], best[0]["cost_per_unit"])  # None: the best is free
    overlap = _overlaps(best)
    return {"rows": best, "considered": len(rows), "intervals_overlap": overlap,
            "sentence": _acc_sentence(opts, best, opts.key(i)[0]) + _interval_sentence(best, overlap)}


def _cost_interval(r: dict) -> dict:
    """Cost per unit of work as an interval: the projection's error band for this GPU's
    generation and layout family (cost ∝ 1 / throughput), with the validation count behind it."""
    from raxlab.predict import errorband
    from raxlab.predict.kernels import family_of

    lay = r.get("layout") or {}
    fam = errorband.layout_family(int(lay.get("zero", 0)), int(lay.get("pp", 1)), int(lay.get("tp", 1)))
    found = family_of(r["accelerator"])
    gen = found[0] if found else None
    band = errorband.band("train", gen, errorband.slice_keys(fam, r["precision"], 0, int(lay.get("cp", 1))))
    if band is None:
        return {"cost_per_unit_interval": None, "band_rows": 0, "band_validated": False, "generation": gen}
    c = r["cost_per_unit"]
    return {"cost_per_unit_interval": [c / (1.0 + band.high), c / (1.0 + band.low)], "band_rows": band.n,
            "band_validated": band.validated, "band_slice": band.slice, "generation": gen}


def _overlaps(best: list[dict]) -> bool:
    """Whether the cheapest option's interval overlaps the next one's (the ranking is not settled)."""
    if len(best) < 2 or not all(r.get("cost_per_unit_interval") for r in best[:2]):
        return False
    return best[0]["cost_per_unit_interval"][1] >= best[1]["cost_per_unit_interval"][0]


def _interval_sentence(best: list[dict], overlap: bool) -> str:
    if len(best) < 2:
        return ""
    unvalidated = [r["accelerator"] for r in best if not r.get("band_validated")]
    note = (f" {', '.join(unvalidated)}: not validated on this generation (widest band)." if unvalidated else "")
    if not overlap:
        return note
    a, b = best[0], best[1]
    return (f" The ranking of {a['accelerator']} and {b['accelerator']} is not settled: their cost intervals overlap "
            f"({money(a['cost_per_unit_interval'][0])}-{money(a['cost_per_unit_interval'][1])} vs "
            f"{money(b['cost_per_unit_interval'][0])}-{money(b['cost_per_unit_interval'][1])}, from "
            f"{a['band_rows']} and {b['band_rows']} validated runs); a short measured run of this workload on "
            f"{b['accelerator']} (and on {a['accelerator']}: `rax bench compute` + `rax calibrate`) would settle it."
            + note)


def _acc_sentence(opts, best: list[dict], rec_acc: str) -> str:
    if not best:
        return "No accelerator could be evaluated."
    label = opts.obj.per_unit[0].removeprefix("USD ")
    parts = [f"{r['accelerator']} {money(r['cost_per_unit'])}" + ("" if k == 0 else f" (+{pct(r['vs_best'])})")
             for k, r in enumerate(best)]
    head = f"Cost {label}: " + ", ".join(parts) + "."
    if not any(r["meets_targets"] for r in best):
        return head + " None of them meets every target."
    if best[0]["accelerator"] == rec_acc:
        return head + f" {rec_acc} is also the cheapest way to meet the targets."
    return (head + f" {rec_acc} meets the targets at the lowest total cost; {best[0]['accelerator']} does more work "
            "per dollar if the cluster stays busy beyond this job.")


def scale_verdict(opts: Options, m: dict, i: int) -> dict:
    """Node count vs time-to-target and cost for the recommended accelerator, server, precision,
    fabric and rails (one node: no fabric)."""
    acc, srv, prec, nodes, fabric, rails = opts.key(i)
    pts = []
    ref = network.per_gpu_reference(opts, m, i)
    for n in sorted(set(opts.c["nodes"][opts.where(accelerator=acc, server=srv, precision=prec)].astype(int))):
        idx = opts.where(accelerator=acc, server=srv, precision=prec, nodes=n)
        if fabric is not None and n > 1:
            idx = idx[(opts.k["fabric"][idx] == fabric) & (opts.k["rails"][idx] == rails)]
        if not len(idx):
            continue
        j = int(idx[np.argmin(m["tco"][idx] + 1e30 * ~m["meets"][idx])]) if m["meets"][idx].any() else \
            int(idx[np.argmin(network.slowness(opts, m)[idx])])
        r = opts.row(j, m)
        on_time = not any(k in r["shortfall"] for k in ("deadline", "throughput"))
        pts.append({"nodes": n, "gpus": r["gpus"], "fabric": r["fabric"], "time_to_target_s": r["time_to_target_s"],
                    "meets_time": on_time, "over_caps": [k for k in r["shortfall"] if k in ("budget", "power", "rack")],
                    "rate": r["rate"], "capex_usd": r["capex_usd"], "tco_usd": r["tco_usd"],
                    "scaling_efficiency": r["rate"] / r["gpus"] / ref[0], "meets_targets": r["meets_targets"]})
    return {"design": {"accelerator": acc, "server": srv, "precision": prec, "fabric": fabric, "rails": rails},
            "points": pts, "recommended_nodes": nodes, "sentence": _scale_sentence(opts, pts, nodes, m)}


def _scale_sentence(opts, pts: list[dict], nodes: int, m: dict) -> str:
    d = m["deadline_s"]
    meet = [p for p in pts if p["meets_time"]]
    rec = next((p for p in pts if p["nodes"] == nodes), None)
    if not pts or rec is None:
        return "No scaling curve for this design."
    if not meet:
        last = pts[-1]
        nodes = f"{last['nodes']} nodes give" if last["nodes"] != 1 else "1 node gives"
        return (f"Even {nodes} {perf(last, opts.obj.unit)}"
                + (f" against a {deadline(d)}" if d else "") + " with this design.")
    first = meet[0]
    what = "time" if opts.obj.work else "throughput"
    s = f"The {what} target needs at least {plural(first['nodes'], 'node')} ({perf(first, opts.obj.unit)}" + \
        (f" against a {deadline(d)})" if d else ")")
    if first["over_caps"]:
        s += f", which is over the {' and '.join(first['over_caps'])} cap ({money(first['capex_usd'])} CAPEX)"
    nxt = next((p for p in pts if p["nodes"] >= 2 * nodes), None)
    if nxt is not None:
        s += (f"; {nxt['nodes']} nodes would give {perf(nxt, opts.obj.unit)} for "
              f"{money(nxt['capex_usd'] - rec['capex_usd'])} more CAPEX (scaling efficiency {pct(nxt['scaling_efficiency'])})")
    return s + "."
