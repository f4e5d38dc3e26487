"""The detail behind a recommendation: its full projection, CAPEX lines with sources, what a
closest candidate is missing, alternatives, the acceptance block, assumptions, guideline text."""

from __future__ import annotations

import numpy as np

from raxlab import fmt
from raxlab.catalog import fabric_bom
from raxlab.plan.cost import rel_change
from raxlab.plan.defaults import default
from raxlab.plan.text import duration, hw, money, pct
from raxlab.predict.layout import Layout

SOURCE_CHARS = 240


def _layout(row_layout: dict) -> Layout:
    keys = ("tp", "pp", "dp", "micro_batch", "global_batch", "vpp", "zero", "recompute", "sequence_parallel")
    moe_cp = {k: row_layout[k] for k in ("ep", "etp", "cp") if k in row_layout}  # MoE / long context only
    return Layout(**{k: row_layout[k] for k in keys}, **moe_cp)


def hardware_for(ctx, i: int):
    """The `Hardware` of option `i` through the same adapter `rax predict` uses."""
    from raxlab.predict.adapter import hardware_from_catalog

    base, var = ctx.opts.base[i], ctx.opts.var[i]
    acc, srv = base.pair
    hwr, notes = hardware_from_catalog(ctx.cat, gpu=acc, server=srv, fabric=var.fabric, rails=var.rails or None,
                                       measured_inter=var.comm_fit_for(base) if var.fabric else None)
    if base.calibrated:
        hwr = hwr.with_efficiency(base.hw.eff)
    return hwr, notes


def projection_for(ctx, i: int) -> dict:
    """The scalar projection (`predict_card_training`) of option `i`: terms, memory, error band."""
    from raxlab.predict.api import predict_card_training

    opts = ctx.opts
    prec = opts.key(i)[2]
    hwr, notes = hardware_for(ctx, i)
    others = [d for d in ("fp32", "tf32", "bf16", "fp16", "fp8") if d != prec]
    notes = [n for n in notes if not any(f"matmul:{d}" in n for d in others)]
    proj = predict_card_training(ctx.card, hwr, _layout(opts.layout(i)), prec, gpus=int(opts.c["gpus"][i]),
                                 seq=ctx.spec.seq_len, assumptions=notes)
    return {**proj.to_dict(), "label": "projected"}


def evaluate_at(ctx, i: int, precision: str) -> dict | None:
    """Best layout of option `i`'s hardware at another precision (None: it cannot run there)."""
    from raxlab.plan.search import models_for, search
    from raxlab.plan.space import Space, _base

    opts = ctx.opts
    b, var, nodes = opts.base[i], opts.var[i], int(opts.c["nodes"][i])
    tmp = Space([], {}, (nodes,))
    nb = _base(b.acc, b.srv, b.hw, b.notes, precision, None, tmp, 1)
    if nb is None:
        return None
    tmp.bases.append(nb)
    if var.fabric is not None:
        tmp.variants[nb.pair] = [var]
    res = search(tmp, models_for(ctx.card, ctx.spec, [precision]))
    if not len(res):
        return None
    c = res.cols
    rate = float(c["tokens_per_s"][0] if ctx.obj.unit == "tokens" else c["samples_per_s"][0])
    t = ctx.obj.work / rate if ctx.obj.work else None
    caps_short = {k: v for k, v in opts.row(i)["shortfall"].items() if k not in ("deadline", "throughput")}
    meets = not caps_short and (not ctx.obj.deadline_s or t is None or t <= ctx.obj.deadline_s) and \
        (not ctx.obj.rate_required or rate >= ctx.obj.rate_required)
    return {"step_time_s": float(c["step_time_s"][0]), "rate": rate, "time_to_target_s": t,
            "mfu": float(c["mfu"][0]), "memory_per_gpu_gib": float(c["memory_bytes"][0]) / 2**30, "meets_targets": meets}


def evaluate_regime(ctx, hardware: dict, row: dict, regime: str) -> dict | None:
    """The network-verdict row `row` (one fabric x rails on `hardware`, the verdict's) re-projected
    with its fabric in load `regime`: best layout, rate, time, and its TCO with the fabric's tuning
    priced only in the tuned regime (None: no layout runs there)."""
    from dataclasses import replace as dc_replace

    from raxlab.plan.search import models_for, search
    from raxlab.plan.space import Space

    opts = ctx.opts
    acc, srv, prec, nodes = (hardware[k] for k in ("accelerator", "server", "precision", "nodes"))
    idx = opts.where(accelerator=acc, server=srv, precision=prec, nodes=nodes, fabric=row["fabric"])
    idx = idx[opts.k["rails"][idx] == row["rails"]]
    if not len(idx):
        return None
    j = int(idx[0])
    b, var = opts.base[j], dc_replace(opts.var[j], regime=regime)
    tmp = Space([b], {b.pair: [var]}, (nodes,))
    res = search(tmp, models_for(ctx.card, ctx.spec, [prec]))
    if not len(res):
        return None
    c, m = res.cols, opts.metrics()
    rate = float(c["tokens_per_s"][0] if ctx.obj.unit == "tokens" else c["samples_per_s"][0])
    t = ctx.obj.work / rate if ctx.obj.work else None
    tuning = float(opts.c["tuning"][j]) if "tuning" in opts.c else 0.0
    tco = float(m["tco"][j]) - tuning + (tuning if var.tuned else 0.0)
    step = float(c["step_time_s"][0])
    meets = not ctx.obj.deadline_s or t is None or t <= ctx.obj.deadline_s
    return {**row, "regime": regime, "step_time_s": step, "rate": rate, "time_to_target_s": t,
            "exposed_comm_share": float(c["comm_s"][0]) / step, "network_comm_share": float(c["net_comm_s"][0]) / step,
            "tco_usd": tco, "tuning_usd": tuning if var.tuned else 0.0,
            "cost_per_unit": tco / (rate * ctx.obj.horizon_s) * ctx.obj.per_unit[1],
            "meets_targets": bool(meets and (not ctx.obj.rate_required or rate >= ctx.obj.rate_required)),
            "label": "projected"}


def _src(entry, fld: str) -> dict:
    p = entry.provenance(fld)
    text = " ".join((p.source or f"estimate: {p.estimate}").split())
    return {"label": p.label, "source": text[:SOURCE_CHARS], "as_of": p.as_of}


def breakdown(ctx, i: int) -> list[dict]:
    """CAPEX lines of option `i` with catalogue provenance; they add up to its CAPEX."""
    opts, cat = ctx.opts, ctx.cat
    base, var, n = opts.base[i], opts.var[i], int(opts.c["nodes"][i])
    acc, srv = base.acc, base.srv
    node = srv.node_price_usd(acc)
    if srv.has("price_usd") and abs(srv.si("price_usd") - node) < 1e-6:
        lines = [_ln("GPU server (with GPUs and bundled NICs)", srv.spec.name, n, node, _src(srv, "price_usd"))]
    else:
        lines = [_ln("server without GPUs", srv.spec.name, n, srv.price_no_gpu_usd, _src(srv, "price_no_gpu_usd")),
                 _ln("accelerator", acc.spec.name, n * srv.gpus_per_node, acc.price_usd, _src(acc, "price_usd"))]
    bundled = cat.nic(var.bundled_nic) if var.nics_unused and var.bundled_nic else None
    if bundled is not None and bundled.has("price_usd") and bundled.price_usd > 0:
        nic = bundled
        lines.append(_ln(f"credit: bundled NICs left unused on {var.fabric}", nic.spec.name, n * var.nics_unused,
                         -nic.price_usd, _src(nic, "price_usd")))
    if var.fabric is not None:
        _, bom = fabric_bom(cat, var.fabric, n, var.rails, ctx.options.cost.oversubscription, nic=var.nic,
                            nics_included_per_server=var.nics_usable, node_link=srv.spec.node_leaf_link)
        for b in bom:
            entry = cat.get(b.kind, b.name)
            lines.append(_ln(b.role, b.name, b.count, b.unit_price_usd, _src(entry, "price_usd")))
    tier = cat.storage(ctx.options.cost.storage_cluster if n > 1 else ctx.options.cost.storage_single)
    tb = opts.storage_bytes / 1e12
    lines.append(_ln(f"storage ({tb:.3g} TB: data set + {default('checkpoints_kept').value:g} checkpoints)",
                     tier.spec.name, 1, tb * tier.price_usd_per_byte * 1e12, _src(tier, "price_usd_per_tb")))
    return lines


def _ln(item: str, name: str, count: int, unit: float, src: dict) -> dict:
    return {"item": item, "name": name, "count": int(count), "unit_usd": float(unit), "total_usd": float(count * unit),
            **src}


def missing(opts, m: dict, i: int) -> dict:
    """What the nearest candidate lacks, and the two ways out: more time or more money/power/space."""
    short = m["short"]
    caps = [k for k in short if k in ("budget", "power", "rack")]
    perf = [k for k in short if k in ("deadline", "throughput")]
    within = np.flatnonzero(sum((short[k] == 0) for k in caps) == len(caps)) if caps else np.arange(len(opts))
    fast = within[np.argmin(np.nan_to_num(m["time"][within], nan=np.inf) if opts.obj.work else -m["rate"][within])] \
        if len(within) else None
    on_time = np.flatnonzero(sum((short[k] == 0) for k in perf) == len(perf)) if perf else np.arange(len(opts))
    cheap = on_time[np.argmin(m["capex"][on_time] * (1 + 1e-9 * _safety(opts, on_time)))] if len(on_time) else None
    out = {"shortfall": {k: float(v[i]) for k, v in short.items() if v[i] > 0}, "sentences": []}
    d = m["deadline_s"]
    if fast is not None and perf and opts.obj.work and d:
        extra = float(m["time"][fast]) - d
        out["within_caps"] = {"option": opts.row(int(fast), m), "extra_time_s": max(extra, 0.0)}
        out["sentences"].append(f"within the caps the fastest option ({hw(opts.row(int(fast), m))}) needs "
                                f"{duration(max(extra, 0.0))} more than the deadline")
    if cheap is not None and caps:
        r = opts.row(int(cheap), m)
        need = {"budget": r["capex_usd"] - (opts.obj.budget_usd or 0), "power_kw": r["it_peak_kw"] - (opts.obj.power_w or 0) / 1e3,
                "rack_units": (r["rack_units"] or 0) - (opts.obj.rack_units or 0)}
        out["meeting_the_deadline"] = {"option": r, "budget_extra_usd": max(need["budget"], 0.0) if opts.obj.budget_usd else None}
        bits = [f"{money(need['budget'])} more budget" if opts.obj.budget_usd and need["budget"] > 0 else None,
                f"{need['power_kw']:.3g} kW more power" if opts.obj.power_w and need["power_kw"] > 0 else None,
                f"{need['rack_units']:.0f} more rack units" if opts.obj.rack_units and need["rack_units"] > 0 else None]
        out["sentences"].append(f"meeting the time target needs {' and '.join(b for b in bits if b)} "
                                f"(cheapest: {hw(r)})")
    return out


def _safety(opts, idx) -> np.ndarray:
    from raxlab.plan.verdicts import _safety as rank

    return np.array([rank(p) for p in opts.k["precision"][idx]], float)


def alternatives(opts, m: dict, i: int, top: int = 5) -> list[dict]:
    """The cheapest option of each other accelerator x fabric that meets the targets (else none)."""
    rec = opts.key(i)
    best: dict = {}
    for j in np.flatnonzero(m["meets"]):
        k = (opts.k["accelerator"][j], opts.k["fabric"][j])
        if k != (rec[0], rec[4]) and (k not in best or m["tco"][j] < m["tco"][best[k]]):
            best[k] = j
    picks = sorted(best.values(), key=lambda j: m["tco"][j])[:top]
    out = []
    for j in picks:
        r = opts.row(int(j), m)
        out.append({**{k: r[k] for k in ("accelerator", "server", "nodes", "gpus", "fabric", "rails", "precision",
                                         "time_to_target_s", "capex_usd", "tco_usd", "cost_per_unit", "layout")},
                    "tco_delta_usd": r["tco_usd"] - float(m["tco"][i]),
                    "cost_per_unit_delta": rel_change(r["cost_per_unit"], m["cost_per_unit"][i])})
    return out


def acceptance(ctx, rec: dict) -> dict:
    """What `rax accept PLAN.json` re-measures: the workload, the layout and the projected numbers."""
    proj = rec.get("projection") or {}
    band = proj.get("error_band")
    step = rec["step_time_s"]
    from raxlab.workload.specfile import identity

    # the spec by absolute path and content hash: `rax accept` from any folder measures this one
    return {**identity(ctx.workload_ref or ctx.spec.name), "accelerator": rec["accelerator"], "server": rec["server"],
            "nodes": rec["nodes"], "gpus": rec["gpus"], "gpus_per_node": rec["gpus_per_node"], "fabric": rec["fabric"],
            "rails": rec["rails"], "precision": rec["precision"], "layout": rec["layout"], "seq_len": ctx.spec.seq_len,
            "projected": {"step_time_s": step, "tokens_per_s": rec["tokens_per_s"], "samples_per_s": rec["samples_per_s"],
                          "mfu": rec["mfu"], "memory_per_gpu_gib": rec["memory_per_gpu_gib"], "error_band": band,
                          "step_time_band_s": [step / (1 + band["high"]), step / (1 + band["low"])] if band else None},
            "label": "projected"}


def assumptions(ctx, i: int) -> list[str]:
    ci = ctx.options.cost
    out = list(ctx.obj.assumptions)
    for key, v in (("gpu_power_fraction", ci.gpu_power_fraction), ("host_power_fraction", ci.host_power_fraction)):
        out.append(default(key).note(key, f"{v:g}"))
    out += [f"fat-trees are {ci.oversubscription:g}:1 (1 = non-blocking), not rail-optimised, from the fabric's default "
            "switch; one NIC port per rail",
            f"storage: {ci.storage_cluster} for clusters, {ci.storage_single} for one node; "
            + default("checkpoints_kept").note("checkpoints kept", f"{default('checkpoints_kept').value:g}"),
            "TCO = CAPEX + electricity over the horizon with the cluster busy throughout (+ the engineering to "
            "tune a RoCE fabric, catalogue tuning_engineer_weeks x engineer_usd_per_week); support contracts, "
            "other staff, floor space and financing are not included",
            "no allowance for failures, restarts or checkpoint pauses (goodput 100 %)",
            f"global batch {ctx.spec.effective_global_batch} and sequence length are the workload's; data parallelism "
            "is limited to global batch / micro-batch",
            f"node counts searched: {', '.join(map(str, ctx.space.nodes))}"]
    out += ctx.measured.notes
    return list(dict.fromkeys(out))


def guideline(plan: dict) -> list[str]:
    """The guideline as plain sentences, most important first."""
    rec, v = plan["recommendation"], plan["verdicts"]
    unit = rec["cost_per_unit_label"].removeprefix("USD ")
    band = rec.get("time_to_target_band_s")
    if rec["time_to_target_s"] is not None:
        when = duration(rec["time_to_target_s"]) + (f" (band {duration(band[0])} to {duration(band[1])})" if band else "") \
            + " to the target"
    else:
        o = plan["objective"]
        when = f"{fmt.g(rec['rate'], 3)} {o['unit']}/s (target {fmt.g(o['rate_required'], 3)})"
    head = (f"Buy {hw(rec)}: {when}, CAPEX {money(rec['capex_usd'])}, TCO {money(rec['tco_usd'])} over "
            f"{plan['objective']['tco']['years']:g} years, {money(rec['cost_per_unit'])} {unit}.")
    if rec["status"] != "meets-all-targets":
        miss = rec.get("missing", {})
        head = (f"No candidate meets every target; the nearest is {hw(rec)} ({when}, CAPEX {money(rec['capex_usd'])}); "
                + "; ".join(miss.get("sentences", [])) + ".")
    out = [head, v["network"]["sentence"], v["precision"]["sentence"], v["accelerator"]["sentence"],
           v["scale"]["sentence"], plan["sensitivity"]["sentence"]]
    eb = (rec.get("projection") or {}).get("error_band")
    out.append(f"Confidence: the projection's error band is {pct(eb['low'])} to +{pct(eb['high'])} ({eb['basis'][:120]}...); "
               if eb else "Confidence: no validated error band for this model kind; ")
    out[-1] += (f"network numbers: {rec['comm_basis'] or 'none'}; compute: {rec['compute_basis']}.")
    return out
