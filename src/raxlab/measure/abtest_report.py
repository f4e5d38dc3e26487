"""Figures of an A/B run from its repetitions: verdict, per-arm step time, split and cost.

Pure apart from the catalogue lookup of the accelerator in `planner_summary`. Labels
follow DESIGN.md's honesty rules: step times, shares and rates are *measured* here;
prices are *catalogue* (with the parts' provenance) or *declared* by the user, and a
cost per unit of work is *projected* (the price amortised over the horizon at the
measured rate, busy all the time); an arm without a price shows N/A.
"""

from __future__ import annotations

import statistics

from raxlab.measure import ab_stats
from raxlab.stats import summarize


def _per_arm(results, arm, ranks: int, batch: int, tokens_per_sample: int | None, horizon: float) -> dict:
    reps = [r for r in results if r.arm == arm.name]
    if not reps:
        return {"name": arm.name, "reps": 0}
    sync = [statistics.median(r.sync_s) for r in reps]
    nosync = [statistics.median(r.compute_s()) for r in reps if r.nosync_s]  # less the all-to-all under EP
    a2a = [statistics.median(r.a2a_sync_s) for r in reps if r.a2a_sync_s]
    med = statistics.median(sync)
    comp = statistics.median(nosync) if nosync else None
    samples_per_s = ranks * batch / med
    unit, rate = ("tokens", samples_per_s * tokens_per_sample) if tokens_per_sample else ("samples", samples_per_s)
    q = summarize(sync)
    return {
        "name": arm.name, "spec": arm.spec, "transport": arm.transport, "emulate": arm.emulate, "reps": len(reps),
        "median_s": med, "q1_s": q.q1, "q3_s": q.q3, "iqr_s": q.iqr, "rel_iqr": q.rel_iqr, "noisy": q.noisy,
        "compute_s": comp, "exposed_comm_s": med - comp if comp else None,
        "exposed_comm_share": 1 - comp / med if comp else None, "samples_per_s": samples_per_s,
        "exposed_a2a_s": statistics.median(a2a) if a2a else None,
        "work_unit": unit, "work_per_s": rate, "price_usd": arm.price_usd, "price_basis": arm.price_basis,
        "fabric": arm.fabric, "usd_per_million": ab_stats.cost_per_unit(arm.price_usd, rate, horizon),
        "cost_label": "projected: price amortised over the horizon at the measured rate, 100 % busy"
        if arm.price_usd is not None else "N/A: no price (map the arm with --arm-fabric or --arm-price)",
        "step_samples_s": [s for r in reps for s in r.sync_s], "rep_medians_s": sync,
    }


def analyse(results, arms, ab, ranks: int, batch: int, tokens_per_sample: int | None, *, complete: bool,
            notes: list[str]) -> dict:
    """The analysis artifact; the verdict only when the design ran to the end."""
    per_arm = {a.name: _per_arm(results, a, ranks, batch, tokens_per_sample, ab.horizon_years) for a in arms}
    out = {"complete": complete, "arms": per_arm, "notes": list(notes), "verdict": None,
           "method": "interleaved repetitions; sample = median synced step of a repetition; exposed "
                     "communication = median(synced) - median(no_sync) per arm (ab_stats, ddp_train docstrings)",
           "labels": {"step times": "measured here", "prices": "catalogue or declared",
                      "cost per unit": "projected"}}
    order, basis = ab_stats.cost_order([{"name": a.name, "price_usd": a.price_usd, "rate_bps": a.rate_bps,
                                         "tcp": a.tcp} for a in arms])
    out["cost_order"], out["cost_basis"] = order, basis
    if not complete:
        out["notes"].append(f"run ended early after {len(results)} repetitions: no verdict")
        return out
    samples = {a.name: per_arm[a.name]["rep_medians_s"] for a in arms}
    verdict = ab_stats.decide(samples, order, threshold=ab.threshold, alpha=ab.alpha, cost_basis=basis)
    out["verdict"] = verdict.to_dict()
    out["cost_note"] = _cost_note(per_arm, verdict)
    return out


def _cost_note(per_arm: dict, verdict) -> str | None:
    """How the recommended arm's projected cost per unit of work compares with the cheapest's."""
    rec, cheap = per_arm[verdict.recommended], per_arm[verdict.cheapest]
    if rec["usd_per_million"] is None or cheap["usd_per_million"] is None or rec is cheap:
        return None
    d = rec["usd_per_million"] / cheap["usd_per_million"] - 1
    return (f"projected cost per million {rec['work_unit']}: {rec['name']} ${rec['usd_per_million']:.4g} vs "
            f"{cheap['name']} ${cheap['usd_per_million']:.4g} ({d:+.1%}; {rec['price_basis']})")


def planner_summary(analysis: dict, arms, workload: str, ranks: int, precision: str, fp: dict) -> dict:
    """The `abtest` artifact in the shape plan/measured.py reads (extra keys are ignored there)."""
    v = analysis.get("verdict") or {}
    cheap = next((c for c in v.get("comparisons", []) if c["arm"] == v.get("cheapest")), None)
    comparison = ({"ratio_median": cheap["ratio"], "ci": cheap["ci"], "p_value": cheap["p_value"],
                   "tie": not cheap["materially_slower"]} if cheap else {"ratio_median": 1.0, "tie": True})
    return {"workload": workload, "accelerator": _accelerator(fp), "nodes": 1, "ranks": ranks,
            "emulated": any(a.emulate for a in arms), "precision": precision, "label": "measured",
            "verdict": v.get("verdict"), "recommended": v.get("recommended"), "comparison": comparison,
            "arms": [{"name": a.name, "fabric": a.fabric, "rails": 1 if a.fabric else None,
                      "median_s": analysis["arms"][a.name].get("median_s"), "n": analysis["arms"][a.name]["reps"]}
                     for a in arms]}


def _accelerator(fp: dict) -> str | None:
    """The catalogue accelerator this ran on, or None (a CPU run calibrates no catalogue part)."""
    gpus = fp.get("gpus") or []
    if not gpus:
        return None
    from raxlab.catalog import load_catalog

    acc = load_catalog().match_device(gpus[0].get("name", ""))
    return acc.name if acc else None
