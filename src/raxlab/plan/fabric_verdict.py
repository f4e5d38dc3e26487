"""The network verdict under load: RoCE tuned vs RoCE on plain ECMP, and pays / tie / inconclusive
from both uncertainties (the projection's band on the cluster to buy, a measured A/B interval).

Decision on a ratio interval [lo, hi] of step times (fabric A's over fabric B's: RoCE over
InfiniBand; > 1: B is faster), with θ the tie threshold (an equivalence test, TOST-style):

    pays          lo > 1 + θ                   B is faster by more than θ, surely: B pays in speed
    reversed      hi < 1 − θ                   A is faster by more than θ, surely
    tie           1 − θ ≤ lo, hi ≤ 1 + θ       the whole interval lies inside the band: proven equal
    inconclusive  anything else                 with the cheapest step that would settle it

`decide` is the A/B's own equivalence rule (`raxlab.equivalence.classify`: slower / faster /
equivalent / inconclusive, named here from the buyer's side), so a measured and a projected
interval are judged alike.

The projected interval comes from the ranges of what differs between the fabrics: each row's
exposed network time is rescaled by the low and high ends of its fabric's load regime
(`predict/data/fabric_regimes.yaml`) and effective fraction (catalogue); the compute model's
own error is common to both arms and cancels in the ratio. A measured A/B (`rax abtest`, its
ratio CI) on the recommended node count decides alone; on another node count its interval is
joined with the projected one (the hull: both must agree for pays or tie).
"""

from __future__ import annotations

import math

from raxlab import equivalence
from raxlab.plan.text import money, pct
from raxlab.predict import regimes

PAYS, TIE, INCONCLUSIVE, REVERSED = "pays", "tie", "inconclusive", "reversed"
# the ratio is A's step over B's: A slower means B pays
_BUYER = {equivalence.SLOWER: PAYS, equivalence.FASTER: REVERSED, equivalence.EQUIVALENT: TIE,
          equivalence.INCONCLUSIVE: INCONCLUSIVE}


def decide(lo: float, hi: float, tie: float) -> str:
    """pays / tie / inconclusive for a ratio interval (see the module docstring)."""
    return _BUYER[equivalence.classify(lo, hi, tie)]


def hull(a: tuple[float, float] | None, b: tuple[float, float] | None) -> tuple[float, float] | None:
    parts = [x for x in (a, b) if x is not None]
    return (min(x[0] for x in parts), max(x[1] for x in parts)) if parts else None


def _eff_range(cat, row: dict) -> tuple[float, float, float]:
    """(low, value, high) of what the fabric delivers under load: effective fraction x regime."""
    if not row.get("fabric"):
        return 1.0, 1.0, 1.0
    lo, v, hi = cat.fabric(row["fabric"]).range_si("effective_fraction")
    reg = regimes.describe(row.get("regime") or "adaptive", row["gpus"], row["gpus_per_node"])["all_reduce"]
    return lo * reg["low"], v * reg["value"], hi * reg["high"]


def _step_range(cat, row: dict) -> tuple[float, float, float]:
    """(fast, value, slow) step time when the row's exposed network time runs at its fabric's
    high / low ends instead of the value."""
    t, share = row["step_time_s"], row.get("network_comm_share") or 0.0
    lo, v, hi = _eff_range(cat, row)
    net = t * share
    return t - net + net * v / hi, t, t - net + net * v / lo


def projected_interval(cat, a: dict, b: dict) -> dict:
    """Ratio of step times a / b with its range from both rows' fabric ranges."""
    c, d = _step_range(cat, a), _step_range(cat, b)
    return {"ratio": c[1] / d[1], "ci": [c[0] / d[2], c[2] / d[0]], "label": "projected",
            "basis": "each fabric's exposed network time at the low and high ends of its load regime and "
                     "effective fraction; the compute model's error is common to both and cancels"}


def measured_interval(ab: dict | None) -> dict | None:
    """The A/B's ratio CI as stored by `rax abtest` (comparison.ci, slower over faster arm)."""
    cmp = (ab or {}).get("comparison") or {}
    ci = cmp.get("ci")
    if not ci or len(ci) != 2 or not all(isinstance(x, (int, float)) and math.isfinite(x) for x in ci):
        return None
    ratio = cmp.get("ratio_median") or cmp.get("ratio") or (ci[0] * ci[1]) ** 0.5
    return {"ratio": float(ratio), "ci": [float(ci[0]), float(ci[1])], "label": "measured", "run": ab.get("run"),
            "nodes": ab.get("nodes"), "n": [a.get("n") for a in ab.get("arms") or []],
            "decision_stored": cmp.get("decision"), "more_pairs": cmp.get("more_pairs")}


def combine(projected: dict, measured: dict | None, tie: float, same_scale: bool) -> dict:
    """The decision from both intervals, with the interval it rests on and what would settle it."""
    if measured is not None and same_scale:
        ci, basis = measured["ci"], "measured on the node count to buy"
    elif measured is not None:
        ci, basis = list(hull(tuple(projected["ci"]), tuple(measured["ci"]))), \
            f"measured on {measured.get('nodes')} nodes joined with the projection for the cluster to buy"
    else:
        ci, basis = projected["ci"], "projected"
    out = {"decision": decide(ci[0], ci[1], tie), "ci": ci, "basis": basis, "tie_threshold": tie,
           "projected": projected, "measured": measured}
    if out["decision"] == INCONCLUSIVE:
        out["next_step"] = next_step(projected, measured, tie, same_scale)
    return out


def _halfwidth(ci) -> float:
    return (ci[1] - ci[0]) / 2.0


def next_step(projected: dict, measured: dict | None, tie: float, same_scale: bool) -> dict:
    """The cheapest step that would likely settle an inconclusive verdict."""
    if measured is not None and _halfwidth(measured["ci"]) >= _halfwidth(projected["ci"]):
        r, hw = measured["ratio"], _halfwidth(measured["ci"])
        if measured.get("more_pairs"):  # the A/B's own estimate at its observed noise (raxlab.equivalence)
            return {"step": "longer-abtest", "what": f"a longer A/B (`rax abtest`): about {measured['more_pairs']} more "
                                                     f"pairs of repetitions would likely settle it at the observed noise"}
        # the half-width that would decide at this ratio: clear the nearer bound it lies beyond,
        # or (inside the band) fit between both
        up, down = r - (1.0 + tie), (1.0 - tie) - r
        need = max(up if up > 0 else down if down > 0 else min(-up, -down), 1e-3)
        factor = min(max((hw / need) ** 2, 1.5), 100.0)  # CI half-width shrinks as 1/sqrt(repetitions)
        ns = [n for n in measured.get("n") or [] if n]
        reps = f"about {math.ceil(max(ns) * factor)} repetitions per arm (now {max(ns)})" if ns else \
            f"about {factor:.1f}x the repetitions"
        return {"step": "longer-abtest", "what": f"a longer A/B (`rax abtest`): {reps}, so the ratio CI "
                                                 f"(now ±{pct(hw)}) clears the ±{pct(tie)} band"}
    if measured is None or not same_scale:
        return {"step": "two-node-test", "what": "a 2-node test on your own fabric: `rax bench comm` across 2 nodes "
                                                 "(and `rax abtest` of the arms) replaces the regime prior with a "
                                                 "measured busbw and latency; then re-plan with `--run`"}
    return {"step": "accept-thresholds", "what": "buy the cheaper fabric with the `rax accept` thresholds of this plan "
                                                 "in the purchase contract: a delivered fabric below them fails"}


def regimes_view(ctx, m, i: int, net: dict, evaluate) -> dict:
    """Every RoCE row of the network verdict in both RoCE regimes (`evaluate(row_index,
    regime)` -> the best layout's metrics there), the price of tuning, and the verdict against
    the best other family under each regime."""
    from raxlab.plan.cost import tuning_usd

    opts, cat = ctx.opts, ctx.cat
    out = {"regimes": {}, "tuning": None, "rows": []}
    rows = [r for r in net.get("rows") or [] if r.get("family") == "RoCE"]
    if not rows:
        return out
    for name in regimes.for_family("roce"):
        out["regimes"][name] = regimes.describe(name, int(opts.c["gpus"][i]), opts.base[i].g)
    fab = rows[0]["fabric"]
    weeks = cat.fabric(fab).range_si("tuning_engineer_weeks") if cat.fabric(fab).has("tuning_engineer_weeks") else None
    out["tuning"] = {"fabric": fab, "engineer_weeks": list(weeks) if weeks else None,
                     "usd": tuning_usd(cat, fab), "usd_range": [tuning_usd(cat, fab, "low"), tuning_usd(cat, fab, "high")],
                     "label": "estimate", "basis": cat.fabric(fab).provenance("tuning_engineer_weeks").estimate
                     if weeks else None}
    for r in rows:
        per = {}
        for name in regimes.for_family("roce"):
            per[name] = r if r.get("regime") == name else evaluate(r, name)
        out["rows"].append({"fabric": r["fabric"], "rails": r["rails"], "by_regime": per})
    return out


def _matching_ab(abtests, acc: str, fabrics: set) -> dict | None:
    """A stored A/B on this accelerator whose arms are (a superset of) these fabrics."""
    for ab in abtests or ():
        arms = {a.get("fabric") for a in ab.get("arms") or []}
        if ab.get("accelerator") == acc and fabrics <= arms:
            return ab
    return None


def under_load(ctx, net: dict, view: dict, tie: float, abtests=()) -> dict | None:
    """RoCE in each of its regimes against the best InfiniBand row: the decision, its interval and
    the next step; with the price of tuning. None when the verdict has no RoCE and IB rows."""
    ib = [r for r in net.get("rows") or [] if r.get("family") == "InfiniBand"]
    if not view.get("rows") or not ib:
        return None
    dear = min(ib, key=lambda r: r["step_time_s"])
    hw = net["hardware"]
    out = {"versus": {k: dear[k] for k in ("fabric", "rails", "step_time_s", "tco_usd", "regime")},
           "tuning": view["tuning"], "regimes": view["regimes"], "rows": []}
    for r in view["rows"]:
        ab = _matching_ab(abtests, hw["accelerator"], {r["fabric"], dear["fabric"]})
        meas = measured_interval(ab)
        same = bool(ab) and int(ab.get("nodes") or 0) == int(hw["nodes"])
        per = {}
        for name, row in r["by_regime"].items():
            if row is None:
                per[name] = {"decision": "N/A", "why": "no layout runs in this regime"}
                continue
            proj = projected_interval(ctx.cat, row, dear)
            # a measured A/B ran the fabric as it was configured: it stands for the default regime
            use = meas if (meas is not None and name == regimes.for_family("roce")[-1]) else None
            per[name] = {**combine(proj, use, tie, same), "step_time_s": row["step_time_s"], "tco_usd": row["tco_usd"],
                         "tuning_usd": row.get("tuning_usd", 0.0), "time_to_target_s": row.get("time_to_target_s"),
                         "meets_targets": row.get("meets_targets")}
        out["rows"].append({"fabric": r["fabric"], "rails": r["rails"], "by_regime": per})
    out["sentence"] = _sentence(out, tie)
    out["summary"] = _summary(out)
    return out


def _summary(out: dict) -> str:
    """One short clause per regime for the headline verdict (the full sentence is `sentence`)."""
    dear, bits = out["versus"]["fabric"], []
    r = out["rows"][0]
    for name, d in r["by_regime"].items():
        if "ci" in d:
            word = {PAYS: f"{dear} pays", TIE: "a proven tie", REVERSED: "RoCE faster"}.get(d["decision"], d["decision"])
            bits.append(f"{name} {d['projected']['ratio']:.2f}x {dear} ({d['ci'][0]:.2f}-{d['ci'][1]:.2f}): {word}")
    t = out.get("tuning") or {}
    cost = f"; tuning ~{t['engineer_weeks'][1]:g} engineer-weeks ({money(t['usd'])}, estimate)" \
        if t.get("engineer_weeks") else ""
    return f"Under load, RoCE {r['fabric']}: " + "; ".join(bits) + cost + "."


def _regime_clause(name: str, d: dict, dear: str, tie: float) -> str:
    if d.get("decision") == "N/A":
        return f"{name}: N/A ({d['why']})"
    lo, hi = d["ci"]
    what = {PAYS: f"{dear} pays (faster by more than {pct(tie)})", TIE: "a proven tie (inside ±" + pct(tie) + ")",
            REVERSED: f"RoCE faster than {dear} by more than {pct(tie)}", INCONCLUSIVE: "inconclusive"}[d["decision"]]
    s = (f"{name}: step {d['projected']['ratio']:.3f}x {dear}'s ({lo:.3f}-{hi:.3f}, {d['basis']}), "
         f"TCO {money(d['tco_usd'])}: {what}")
    return s + (f"; next: {d['next_step']['what']}" if d.get("next_step") else "")


def _sentence(out: dict, tie: float) -> str:
    dear = out["versus"]["fabric"]
    parts = []
    for r in out["rows"]:
        clauses = "; ".join(_regime_clause(n, d, dear, tie) for n, d in r["by_regime"].items())
        parts.append(f"RoCE {r['fabric']} x {r['rails']} rails under load vs {dear} - {clauses}.")
    t = out.get("tuning")
    if t and t.get("engineer_weeks"):
        lo, v, hi = t["engineer_weeks"]
        parts.append(f"Tuning RoCE (ECMP entropy/QP scaling, congestion control) is priced at {v:g} engineer-weeks "
                     f"({lo:g}-{hi:g}), {money(t['usd'])} (estimate), in the tuned rows' TCO; without it the fabric "
                     "runs in the ecmp-default regime.")
    return " ".join(parts)


ACCEPT_SIZE_BYTES = 256 * 2**20  # `rax accept` sweeps all-reduce up to 256 MiB (accept.run AcceptOptions)


def thresholds(ctx, i: int, rec: dict) -> dict | None:
    """`rax accept` pass/fail floors for the fabric of recommendation `i`: all-reduce and
    all-to-all busbw at the planned scale ≥ the plan's fraction of what it projects there (its
    algorithm, its load regime, the fat-tree taper), at accept's largest message. Two nodes run
    NCCL_ALGO=Ring under accept (a tree there exceeds the NICs), so the ring is projected."""
    import copy

    from raxlab.plan.defaults import default
    from raxlab.plan.detail import hardware_for
    from raxlab.predict import collectives
    from raxlab.predict.hardware import hw_consts

    if not rec.get("fabric") or rec["nodes"] < 2:
        return None
    hw, _ = hardware_for(ctx, i)
    hc = copy.copy(hw_consts(hw, rec["precision"]))
    var = ctx.opts.var[i]
    hc.oversub, hc.nodes_per_leaf = var.oversub, var.nodes_per_leaf
    frac = default("accept_busbw_fraction")
    p, k, n = rec["gpus"], rec["gpus_per_node"], ACCEPT_SIZE_BYTES
    ring = rec["nodes"] == 2
    rows = []
    for name, kind in (("fabric_all_reduce", "all_reduce"), ("fabric_all_to_all", "all_to_all")):
        bw = float(collectives.busbw(kind, n, p, k, hc, ring_only=ring)) / 1e9
        algo = "p2p" if kind == "all_to_all" else ("ring (NCCL_ALGO=Ring)" if ring else
                                                    str(collectives.group_choice(kind, n, p, k, hc)))
        rows.append({"name": name, "collective": kind, "ranks": p, "gpus_per_node": k, "size_bytes": n,
                     "projected_GBps": bw, "min_GBps": bw * frac.value, "fraction": frac.value, "algorithm": algo,
                     "regime": hw.fabric_regime, "label": "projected",
                     "basis": f"{frac.value:.0%} of the projected busbw ({algo}, regime {hw.fabric_regime})"})
    return {"fraction": frac.value, "fraction_basis": frac.basis, "fabric": rec["fabric"], "rails": rec["rails"],
            "regime": hw.fabric_regime, "rows": rows}
