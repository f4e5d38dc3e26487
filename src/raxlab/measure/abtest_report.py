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


def paired_samples(results, arms) -> dict[str, list[float]]:
    """Per arm, the repetition medians of the rounds every arm completed, in round order."""
    by = {(r.arm, r.rep): statistics.median(r.sync_s) for r in results}
    rounds = sorted({r.rep for r in results})
    full = [k for k in rounds if all((a.name, k) in by for a in arms)]
    return {a.name: [by[(a.name, k)] for k in full] for a in arms}


def sequential_verdict(results, arms, ab, plan, looks: tuple[int, ...], final: bool, load: dict) -> dict:
    """The verdict at a look after `looks[-1]` rounds, at that look's nominal level."""
    from raxlab.equivalence import Spending

    samples = paired_samples(results, arms)
    spend = Spending(ab.alpha / (len(arms) - 1), plan.n_max, ab.spending)  # Bonferroni over k - 1 comparisons
    level = spend.levels(looks, final)[-1]
    order, basis = cost_order_of(arms)
    v = ab_stats.decide(samples, order, threshold=ab.threshold, alpha=ab.alpha, level=level,
                        stretch=load["stretch"], cost_basis=basis)
    return {**v.to_dict(), "looks": list(looks), "final": final, "spending": spend.to_dict(), "load": load}


def cost_order_of(arms) -> tuple[list[str], str]:
    return ab_stats.cost_order([{"name": a.name, "price_usd": a.price_usd, "rate_bps": a.rate_bps, "tcp": a.tcp}
                                for a in arms])


def analyse(results, arms, ab, ranks: int, batch: int, tokens_per_sample: int | None, *, complete: bool,
            notes: list[str], verdict: dict | None = None, plan=None, looks: list | None = None,
            busy: dict | None = None, setup: dict | None = None) -> dict:
    """The analysis artifact; the verdict only when the design ran to a decision or its budget."""
    per_arm = {a.name: _per_arm(results, a, ranks, batch, tokens_per_sample, ab.horizon_years) for a in arms}
    out = {"complete": complete, "arms": per_arm, "notes": list(notes), "verdict": None,
           "method": "rounds of interleaved repetitions, blocks of two rounds in a random order then reversed (and the "
                     "arms' process sets crossed over when their fabrics differ only in rates); sample = median synced step "
                     "of a repetition; pairs = one round's repetitions; paired log-ratio t interval, TOST decision "
                     "with alpha spending over sequential looks (ab_stats, equivalence); exposed communication = "
                     "median(synced) - median(no_sync) per arm",
           "labels": {"step times": "measured here", "prices": "catalogue or declared", "cost per unit": "projected"},
           "plan": plan.to_dict() if plan else None, "looks": looks or [], "busyness": _busy_brief(busy)}
    out["cost_order"], out["cost_basis"] = cost_order_of(arms)
    out["notes"] += (plan.notes if plan else []) + machine_notes(busy, ranks, setup) + exposed_notes(per_arm)
    if not complete:
        out["notes"].append(f"run ended early after {len(results)} repetitions: no verdict")
        return out
    if verdict is None and results:  # a fixed design, analysed once at its end (no sequential looks)
        from raxlab.measure.ab_plan import SequentialPlan

        n = len(next(iter(paired_samples(results, arms).values())))
        if n >= 2:
            fixed = SequentialPlan(n, (n,), 0.0, 0.0)
            verdict = sequential_verdict(results, arms, ab, fixed, (n,), True, {"stretch": 1.0})
    out["verdict"] = verdict
    if verdict:
        out["cost_note"] = _cost_note(per_arm, verdict)
    return out


def _busy_brief(busy: dict | None) -> dict | None:
    if not busy:
        return None
    return {k: busy.get(k) for k in ("busy", "others_cores_mean", "others_cores_peak_5s", "machine_cores_mean",
                                     "ours_cores_mean", "saturated_share", "cores", "busy_threshold_cores")}


def machine_notes(busy: dict | None, ranks: int, setup: dict | None) -> list[str]:
    """When the machine, not the link, may set the pace: busy with other work, saturated, oversubscribed."""
    from raxlab.measure.busyness import describe

    out = [line for line in [describe(busy or {})] if line]
    cores = (busy or {}).get("cores")
    threads = next(((s or {}).get("threads") or 1 for s in (setup or {}).values()), 1)
    if cores and ranks * threads > cores:
        out.append(f"{ranks} ranks x {threads} threads share {cores} cores: the ranks time-share the CPU, so the "
                   "machine, not the link, sets part of every step (compute and the kernel's TCP work compete)")
    sat = (busy or {}).get("saturated_share")
    if sat is not None and sat >= 0.5:
        out.append(f"the CPU was saturated (>= 95 % of {cores} cores busy) in {sat:.0%} of the samples: where the "
                   "link is not the bottleneck, a faster link cannot show")
    return out


def exposed_notes(per_arm: dict) -> list[str]:
    neg = [a for a in per_arm.values() if (a.get("exposed_comm_share") or 0) < 0]
    return [f"arm {a['name']}: exposed communication {a['exposed_comm_share']:+.1%} is below zero: the no_sync step "
            "(no gradient exchange) took longer than the synced one. The split is a difference of two noisy "
            "medians; a value below zero means the exchange is hidden behind backward (read it as about 0 %), "
            "within the noise of the step" for a in neg]


def _cost_note(per_arm: dict, verdict) -> str | None:
    """How the recommended arm's projected cost per unit of work compares with the cheapest's."""
    if not verdict.get("recommended"):
        return None
    rec, cheap = per_arm[verdict["recommended"]], per_arm[verdict["cheapest"]]
    if rec["usd_per_million"] is None or cheap["usd_per_million"] is None or rec is cheap:
        return None
    d = rec["usd_per_million"] / cheap["usd_per_million"] - 1
    return (f"projected cost per million {rec['work_unit']}: {rec['name']} ${rec['usd_per_million']:.4g} vs "
            f"{cheap['name']} ${cheap['usd_per_million']:.4g} ({d:+.1%}; {rec['price_basis']})")


def planner_summary(analysis: dict, arms, workload: str, ranks: int, precision: str, fp: dict) -> dict:
    """The `abtest` artifact in the shape plan/measured.py reads (extra keys are ignored there).

    `comparison` is the cheapest arm against the fastest (ab_stats.Comparison): ratio = time(cheapest) /
    time(fastest) with its interval `ci` (coverage `ci_level`), `decision` pays | tie | cheaper-faster |
    inconclusive (the verdict's code), `tie` True only for a proven tie, `noise_cv`, `n_pairs`, `more_pairs`,
    `load_stretch`. `ratio_median` keeps its old name for readers of earlier runs."""
    v = analysis.get("verdict") or {}
    cheap = next((c for c in v.get("comparisons", []) if c["arm"] == v.get("cheapest")), None)
    keys = ("ratio", "ci", "ci_level", "p_value", "noise_cv", "n_pairs", "more_pairs", "load_stretch", "sign")
    comparison = {"ratio_median": 1.0, "ratio": 1.0, "decision": v.get("decision"), "tie": v.get("decision") == "tie"}
    if cheap:
        comparison.update({k: cheap[k] for k in keys}, ratio_median=cheap["ratio"])
    comparison["threshold"] = v.get("threshold")
    return {"workload": workload, "accelerator": _accelerator(fp), "nodes": 1, "ranks": ranks,
            "emulated": any(a.emulate for a in arms), "precision": precision, "label": "measured",
            "verdict": v.get("verdict"), "decision": v.get("decision"), "recommended": v.get("recommended"),
            "comparison": comparison,
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
