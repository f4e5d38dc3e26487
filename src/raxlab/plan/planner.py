"""`make_plan`: workload card + targets + catalogue (+ measurements) -> the purchase plan (a dict).

Order of work: objective from the targets -> candidate hardware (`space`) -> best layout per
hardware option (`search`) -> costs -> recommendation (cheapest meeting every target and cap,
then the network rule) -> verdicts -> sensitivity -> Pareto front and alternatives. The dict
is the plan file (`rax plan --json`, read by `rax accept`); `PLAN_KEYS` lists its top level.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from raxlab.errors import RaxError
from raxlab.plan import network, verdicts
from raxlab.plan.cost import CostInputs, option_costs
from raxlab.plan.detail import acceptance, alternatives, breakdown, missing, projection_for
from raxlab.plan.measured import Measured
from raxlab.plan.objective import objective_from_spec
from raxlab.plan.options import Options, pareto
from raxlab.plan.schema import LABELS, SCHEMA  # noqa: F401 (re-exported)
from raxlab.plan.search import models_for, search
from raxlab.plan.sensitivity import sensitivity
from raxlab.plan.space import Space, SpaceOptions, build_space
from raxlab.plan.text import jsonable, pct
from raxlab.predict import errorband

PLAN_KEYS = ("schema", "workload", "objective", "recommendation", "verdicts", "pareto", "alternatives", "sensitivity",
             "pruned", "search", "measured", "assumptions", "labels", "guideline", "acceptance")
TIE_FALLBACK = 0.10  # no validated band (non-transformer models): differences under 10 % are ties
PARETO_MAX = 60


@dataclass
class PlanOptions:
    space: SpaceOptions = field(default_factory=SpaceOptions)
    cost: CostInputs = field(default_factory=CostInputs)
    gen_tokens: int | None = None  # inference: generated tokens per request


def _tie(transformer: bool, opts=None) -> tuple[float, str, object]:
    """The tie threshold: the median |error| of the band of the GPU generation the cheapest
    option runs on (bands differ by generation: data/error_band.yaml)."""
    gen = _cheapest_generation(opts) if opts is not None and len(opts) else None
    band = errorband.band("train", gen) if transformer else errorband.band("train_generic")
    if band is None:
        return TIE_FALLBACK, "no validated error band for this model kind: 10 % (estimate)", None
    return band.median_abs, f"median |error| of the projection ({band.slice}): {band.basis}", band


def _cheapest_generation(opts) -> str | None:
    from raxlab.predict.kernels import family_of

    i = int(np.argmin(opts.metrics()["cost_per_unit"]))
    found = family_of(str(opts.k["accelerator"][i]))
    return found[0] if found else None


def make_plan(spec, card, cat, *, workload_ref: str | None = None, measured: Measured | None = None,
              options: PlanOptions | None = None) -> dict:
    """The whole plan as a JSON-ready dict (see the module docstring)."""
    t0 = time.perf_counter()
    options = options or PlanOptions()
    measured = measured or Measured()
    obj = objective_from_spec(spec, card.tokens_per_sample)
    if obj.inference:
        from raxlab.plan.serve import make_serving_plan

        return make_serving_plan(spec, card, cat, obj, workload_ref=workload_ref, measured=measured, options=options)
    models = models_for(card, spec, spec.precisions)
    # the projection sees the fat-tree taper the cost model prices (one knob: --oversubscription)
    sopts = replace(options.space, oversubscription=options.cost.oversubscription)
    space = build_space(cat, list(spec.precisions), sopts, measured.calibrations, measured.fabric_fits)
    res = search(space, models)
    opts = Options(space, res, option_costs(cat, space, res, obj, card, options.cost), obj,
                   spec.effective_global_batch)
    transformer = next(iter(models.values())).transformer
    tie, tie_basis, band = _tie(transformer, opts)
    if not len(opts):
        raise RaxError("no candidate can run this workload: " + _pruned_text(space, res, opts), field="workload")
    ctx = _Ctx(spec, card, cat, obj, space, opts, tie, tie_basis, band, measured, options, models, workload_ref)
    plan = _assemble(ctx)
    plan["search"]["wall_s"] = time.perf_counter() - t0
    return jsonable(plan)


@dataclass
class _Ctx:
    spec: object
    card: object
    cat: object
    obj: object
    space: Space
    opts: Options
    tie: float
    tie_basis: str
    band: object
    measured: Measured
    options: PlanOptions
    models: dict
    workload_ref: str | None


def _assemble(ctx: _Ctx) -> dict:
    opts = ctx.opts
    i, m, reason = verdicts.recommend(opts, None, ctx.tie)
    net = network.verdict(opts, m, i, reason, ctx.tie, ctx.tie_basis, ctx.cat, ctx.measured.abtests)
    _under_load(ctx, m, i, net)
    i = _measured_pick(opts, m, i, net)
    rec = _recommendation(ctx, i, m, reason, net)
    plan = {
        "schema": SCHEMA, "workload": _workload(ctx), "objective": ctx.obj.to_dict(), "recommendation": rec,
        "verdicts": {"network": net, "precision": verdicts.precision_verdict(
                         opts, m, i, lambda p: _other_precision(ctx, i, p, m), list(ctx.spec.precisions), ctx.tie),
                     "accelerator": verdicts.accelerator_verdict(opts, m, i), "scale": verdicts.scale_verdict(opts, m, i)},
        "pareto": _pareto(opts, m, i), "alternatives": alternatives(opts, m, i),
        "sensitivity": sensitivity(opts, i, ctx.band, ctx.tie, verdicts.recommend),
        "pruned": _pruned(ctx.space, opts.res, opts), "search": _search_stats(ctx),
        "measured": ctx.measured.to_dict(), "assumptions": _assumptions(ctx, i), "labels": LABELS,
    }
    plan["acceptance"] = acceptance(ctx, rec)
    from raxlab.plan.fabric_verdict import thresholds

    plan["acceptance"]["thresholds"] = thresholds(ctx, i, rec)
    _runner_up(plan, ctx.tie)
    plan["guideline"] = _guideline(plan)
    return plan


def _runner_up(plan: dict, tie: float) -> None:
    """Say so when another accelerator or fabric meets the targets within the tie threshold of the TCO."""
    rec, alts = plan["recommendation"], plan["alternatives"]
    if not rec["meets_targets"] or not alts:
        return
    a = alts[0]
    share = a["tco_delta_usd"] / rec["tco_usd"] if rec["tco_usd"] > 0 else None
    if share is not None and share <= tie:
        plan["sensitivity"]["sentence"] += (
            f" The runner-up, {a['nodes']} x {a['accelerator']} on {a['fabric']}, meets the targets within {pct(share)}"
            " of the TCO: a tie on cost, so supply, software stack and support can decide.")


def _under_load(ctx: _Ctx, m: dict, i: int, net: dict) -> None:
    """The network verdict under both RoCE load regimes, with the tuning price (fabric_verdict)."""
    from raxlab.plan import fabric_verdict
    from raxlab.plan.detail import evaluate_regime

    if not net.get("rows"):
        return
    view = fabric_verdict.regimes_view(ctx, m, i, net, lambda r, name: evaluate_regime(ctx, net["hardware"], r, name))
    load = fabric_verdict.under_load(ctx, net, view, ctx.tie, ctx.measured.abtests)
    if load is not None:  # its own block: the headline sentence stays the one the guideline prints
        net["under_load"] = load


def _measured_pick(opts, m, i: int, net: dict) -> int:
    """Adopt the fabric a measured A/B chose, when it is among the evaluated options."""
    if net.get("basis") != "measured" or not net.get("recommended_fabric"):
        return i
    acc, srv, prec, nodes = opts.key(i)[:4]
    idx = opts.where(accelerator=acc, server=srv, precision=prec, nodes=nodes, fabric=net["recommended_fabric"])
    if net.get("recommended_rails"):
        same = idx[opts.k["rails"][idx] == net["recommended_rails"]]
        idx = same if len(same) else idx
    return int(idx[np.argmin(m["tco"][idx])]) if len(idx) else i


def _recommendation(ctx: _Ctx, i: int, m: dict, reason: str, net: dict) -> dict:
    opts = ctx.opts
    row = opts.row(i, m)
    proj = projection_for(ctx, i)
    row["projection"] = proj
    band = proj.get("error_band")
    t = row["time_to_target_s"]
    row["time_to_target_band_s"] = [t / (1 + band["high"]), t / (1 + band["low"])] if band and t else None
    row["capex_breakdown"] = breakdown(ctx, i)
    row["provenance"] = _provenance(row, proj)
    row["status"] = "meets-all-targets" if row["meets_targets"] else "closest"
    row["basis"] = {"closest": "no candidate meets every target: the nearest one",
                    "cheapest-meeting": "cheapest total cost (TCO) meeting every target and cap",
                    "needed": "cheapest total cost (TCO) meeting every target and cap",
                    "lower-cost-per-unit": "a dearer fabric that lowers the cost per unit of work (network verdict)",
                    "single-node": "cheapest total cost (TCO) meeting every target and cap",
                    }.get(reason, reason) + (" (fabric from the measured A/B)" if net.get("basis") == "measured" else "")
    if not row["meets_targets"]:
        row["missing"] = missing(opts, m, i)
    return row


def _provenance(row: dict, proj: dict) -> dict:
    """How each headline number of the recommendation is labelled (DESIGN.md honesty rules)."""
    labels = {ln["label"] for ln in row["capex_breakdown"]}
    capex = "override" if "override" in labels else "estimate" if "estimate" in labels else "catalogue"
    return {"performance": {"label": "projected", "error_band": proj.get("error_band"),
                            "compute": row["compute_basis"], "network": row["comm_basis"]},
            "capex_usd": {"label": capex, "lines": "capex_breakdown"},
            "energy_usd": {"label": "estimate", "basis": "catalogue power x planner power fractions x PUE x "
                                                         "electricity price (assumptions)"},
            "tco_usd": {"label": "estimate" if capex != "override" else "override"}}


def _other_precision(ctx: _Ctx, i: int, precision: str, m: dict) -> dict | None:
    """The recommended hardware at another precision (for the precision verdict)."""
    from raxlab.plan.detail import evaluate_at

    return evaluate_at(ctx, i, precision)


def _workload(ctx: _Ctx) -> dict:
    s, c = ctx.spec, ctx.card
    return {"ref": ctx.workload_ref or s.name, "name": s.name, "task": s.task, "kind": c.kind, "params": c.params,
            "seq_len": s.seq_len, "global_batch": s.effective_global_batch, "micro_batch": s.micro_batch,
            "precisions": list(s.precisions), "tokens_per_sample": c.tokens_per_sample}


def _pareto(opts, m, i: int) -> dict:
    idx = pareto(opts, m)
    total = len(idx)
    if total > PARETO_MAX:
        idx = np.unique(np.r_[idx[np.linspace(0, total - 1, PARETO_MAX).astype(int)], [i] if i in idx else []]).astype(int)
    keys = ("accelerator", "server", "nodes", "gpus", "fabric", "rails", "precision", "time_to_target_s", "rate",
            "capex_usd", "tco_usd", "cost_per_unit", "meets_targets")
    pts = [{**{k: r[k] for k in keys}, "recommended": int(j) == i} for j in idx for r in [opts.row(int(j), m)]]
    return {"axes": ["tco_usd", "time_to_target_s" if opts.obj.work else "rate"], "points": pts,
            "points_on_front": total, "shown": len(pts), "recommended_on_front": bool(i in set(pareto(opts, m)))}


def _pruned(space, res, opts) -> dict:
    hw = Counter(space.pruned)
    if opts.unpriced:
        hw["fabric too large for three switch tiers or unpriced"] += opts.unpriced
    return {"hardware": dict(hw), "layouts": dict(res.pruned_layouts), "options_without_a_layout": res.no_layout,
            "unit": "hardware: options (accelerator x server x precision x nodes x fabric x rails); layouts: "
                    "hardware option x layout"}


def _pruned_text(space, res, opts) -> str:
    d = _pruned(space, res, opts)
    top = Counter({**d["hardware"], **d["layouts"]}).most_common(4)
    return "; ".join(f"{k} ({v:,})" for k, v in top) or "nothing to search"


def _search_stats(ctx: _Ctx) -> dict:
    res = ctx.opts.res
    return {"hardware_bases": len(ctx.space.bases), "node_counts": list(ctx.space.nodes),
            "hardware_options": len(res), "priced_options": len(ctx.opts), "candidates_covered": res.space_size,
            "candidates_evaluated": res.evaluated,
            "evaluated_by_stage": dict(res.stages),
            "method": "every layout on each group's fastest and slowest fabric x rails, then the candidates that can "
                      "win (best per pp, tp, ZeRO stage) on every fabric x rails (search.py)"}




def _assumptions(ctx: _Ctx, i: int) -> list[str]:
    from raxlab.plan.detail import assumptions

    return assumptions(ctx, i)


def _guideline(plan: dict) -> list[str]:
    from raxlab.plan.detail import guideline

    return guideline(plan)
