"""The network verdict: InfiniBand vs RoCE vs plain Ethernet for the recommended GPUs and nodes.

Every fabric the catalogue offers is compared on the recommended accelerator, server,
precision and node count, each with its best NIC rail count and layout: time-to-target,
scaling efficiency (throughput per GPU against one node of the same GPUs), the share of the
step spent in exposed communication, CAPEX and TCO deltas and cost per unit of work.

Decision (`pick`): the cheapest fabric (TCO) that meets every target and cap; a dearer one only
when it is needed to meet them, or when it lowers the cost per unit of work by more than the
tie threshold (the faster fabric then pays for itself over the horizon). A difference smaller
than the threshold is a tie and the cheaper fabric wins. The threshold is the projection's
median absolute error on published runs (`predict/data/error_band.yaml`): both arms share the
compute model, so a fabric difference below the typical error is not evidence.

A measured A/B of fabrics on the customer's own cluster (`measured.py`) replaces the projected
comparison when it was run on the recommended accelerator and node count (labelled measured).
"""

from __future__ import annotations

import numpy as np

from raxlab.plan.cost import rel_change
from raxlab.plan.text import deadline, duration, money, pct, plural

FAMILY = {("infiniband", "rdma"): "InfiniBand", ("ethernet", "rdma"): "RoCE", ("ethernet", "tcp"): "Ethernet (TCP)"}


def slowness(opts, m) -> np.ndarray:
    """Time-to-target, or seconds per unit when there is no amount of work (throughput targets)."""
    return m["time"] if opts.obj.work else 1.0 / m["rate"]


def _same_hardware(opts, i: int) -> np.ndarray:
    acc, srv, prec, nodes, _, _ = opts.key(i)
    return opts.where(accelerator=acc, server=srv, precision=prec, nodes=nodes)


def cheapest_meeting(opts, m, i: int) -> int | None:
    """The cheapest (TCO) fabric x rails meeting the targets at the hardware of `i`."""
    same = _same_hardware(opts, i)
    meet = same[m["meets"][same]]
    return int(meet[np.argmin(m["tco"][meet])]) if len(meet) else None


def pick(opts, m, i: int, tie: float) -> tuple[int, str]:
    """(option, reason) the network rule chooses among every fabric x rails at the hardware of `i`:
    the cheapest (TCO) meeting the targets, unless another lowers the cost per unit of work by
    more than `tie`; then the one with the lowest cost per unit."""
    if opts.k["fabric"][i] is None:
        return i, "single-node"
    same = _same_hardware(opts, i)
    meet = same[m["meets"][same]]
    if not len(meet):
        return i, "none-meets"
    cheapest = int(meet[np.argmin(m["tco"][meet])])
    best = int(meet[np.argmin(m["cost_per_unit"][meet])])
    over = rel_change(m["cost_per_unit"][cheapest], m["cost_per_unit"][best])
    if over is None or over > tie:  # None: the best costs nothing per unit and the cheapest does
        return best, "lower-cost-per-unit"
    return cheapest, "needed" if m["tco"][cheapest] > m["tco"][same].min() else "cheapest-meeting"


def fabric_rows(opts, m, i: int) -> list[int]:
    """One option per fabric at the hardware of `i`: the recommended one for its own fabric; for
    the others the rails with the lowest cost per unit of work among those meeting the targets,
    else the fastest. Sorted by TCO."""
    same = _same_hardware(opts, i)
    slow = slowness(opts, m)
    rows = []
    for f in dict.fromkeys(opts.k["fabric"][same]):
        idx = same[opts.k["fabric"][same] == f]
        if f == opts.k["fabric"][i]:
            rows.append(int(i))
            continue
        ok = idx[m["meets"][idx]]
        rows.append(int(ok[np.argmin(m["cost_per_unit"][ok])]) if len(ok) else int(idx[np.argmin(slow[idx])]))
    return sorted(rows, key=lambda r: m["tco"][r])


def family(cat, fabric: str | None) -> str | None:
    if fabric is None:
        return None
    spec = cat.fabric(fabric).spec
    return FAMILY.get((spec.family, spec.transport), spec.family)


def per_gpu_reference(opts, m, i: int) -> tuple[float, int]:
    """Throughput per GPU of the best smallest-node-count option of the same GPUs and precision."""
    acc, srv, prec = opts.key(i)[:3]
    same = opts.where(accelerator=acc, server=srv, precision=prec)
    n0 = int(opts.c["nodes"][same].min())
    ref = same[opts.c["nodes"][same] == n0]
    return float(np.max(m["rate"][ref] / opts.c["gpus"][ref])), n0


def _row(opts, m, r: int, base: int, cat, ref: tuple[float, int]) -> dict:
    row = opts.row(r, m)
    out = {k: row[k] for k in ("fabric", "rails", "nic", "time_to_target_s", "rate", "exposed_comm_share",
                               "network_comm_share", "all_to_all_share", "capex_usd", "tco_usd", "cost_per_unit", "meets_targets",
                               "shortfall", "comm_basis", "layout", "step_time_s", "gpus", "gpus_per_node", "regime",
                               "tuning_usd")}
    out["family"] = family(cat, row["fabric"])
    out["node_bandwidth_GBps"] = _node_bw(opts, r) / 1e9
    out["scaling_efficiency"] = row["rate"] / row["gpus"] / ref[0]
    out["scaling_reference_nodes"] = ref[1]
    out["capex_delta_usd"] = row["capex_usd"] - float(m["capex"][base])
    out["tco_delta_usd"] = row["tco_usd"] - float(m["tco"][base])
    out["label"] = "projected"
    return out


def verdict(opts, m, i: int, reason: str, tie: float, tie_basis: str, cat, abtests=()) -> dict:
    """The network verdict at the hardware of the recommended option `i` (see the module docstring)."""
    acc, srv, prec, nodes, fabric, rails = opts.key(i)
    head = {"hardware": {"accelerator": acc, "server": srv, "precision": prec, "nodes": nodes,
                         "gpus": int(opts.c["gpus"][i])},
            "tie_threshold": tie, "tie_basis": tie_basis, "decision": reason, "basis": "projected"}
    if reason == "single-node":
        return {**head, "rows": [], "recommended_fabric": None, "recommended_rails": 0, "by_family": {},
                "sentence": f"One node of {acc} does it: GPU traffic stays on the node's {_scaleup(opts, i)}; "
                            "there is no scale-out fabric to buy."}
    if fabric is None:  # the closest option is one node because no fabric survived the pruning
        return {**head, "rows": [], "recommended_fabric": None, "recommended_rails": 0, "by_family": {},
                "sentence": "No scale-out fabric in the search can join these servers (see the pruned reasons), "
                            "so no multi-node option was evaluated; the closest option is one node."}
    ref = per_gpu_reference(opts, m, i)
    rows = [_row(opts, m, r, i, cat, ref) for r in fabric_rows(opts, m, i)]
    cm = cheapest_meeting(opts, m, i)
    cheap = _row(opts, m, cm, i, cat, ref) if cm is not None else None
    same = _same_hardware(opts, i)
    cheaper = same[m["tco"][same] < m["tco"][i]]
    pool = cheaper if len(cheaper) else same  # the best the cheaper options can do
    cheapest = _row(opts, m, int(pool[np.argmin(slowness(opts, m)[pool])]), i, cat, ref)
    out = {**head, "rows": rows, "recommended_fabric": fabric, "recommended_rails": rails,
           "cheapest_meeting": cheap, "by_family": _by_family(rows),
           "sentence": _sentence(opts, rows, fabric, reason, tie, cheap, cheapest) + _family_sentence(rows, fabric, tie)
           + (" It is the only fabric these servers can join (their NICs are built into the accelerators)."
              if len(rows) == 1 and reason != "cheapest-meeting" else "")}
    ab = _measured(opts, m, i, rows, abtests, tie, cat)
    if ab is not None:
        out["measured"] = ab
        if ab.get("applies"):
            out.update(basis="measured", sentence=ab["sentence"], recommended_fabric=ab["fabric"],
                       recommended_rails=ab["rails"], decision=ab["decision"])
    return out


def _node_bw(opts, r: int) -> float:
    """Achievable scale-out bandwidth of one node of option r (B/s): rails x line rate x efficiency
    (the measured efficiency when the fabric was measured)."""
    v = opts.var[r]
    if v.fabric is None or v.hw is None:  # one node, no scale-out network: nothing to compare
        return 0.0
    eff = v.measured.efficiency if v.measured is not None else v.hw.fabric_eff
    return v.rails * v.hw.rail_bw * eff


def _scaleup(opts, i: int) -> str:
    kind = opts.base[i].hw.scaleup_kind
    return {"nvswitch": "NVLink/NVSwitch", "xgmi": "xGMI links", "pcie": "PCIe", "on-chip-roce": "on-chip links",
            "nvlink-bridge-pairs": "NVLink bridges and PCIe"}.get(kind, kind)


def _by_family(rows: list[dict]) -> dict:
    """Each family at its best: its cheapest row meeting the targets, else its fastest."""
    out: dict = {}
    for fam in dict.fromkeys(r["family"] for r in rows):
        mine = [r for r in rows if r["family"] == fam]
        ok = [r for r in mine if r["meets_targets"]]
        best = min(ok, key=lambda r: r["tco_usd"]) if ok else min(mine, key=_slow)
        out[fam] = {k: best[k] for k in ("fabric", "rails", "time_to_target_s", "tco_usd", "cost_per_unit",
                                         "meets_targets", "exposed_comm_share", "all_to_all_share",
                                         "node_bandwidth_GBps")}
    return out


def _name(r: dict) -> str:
    return f"{r['fabric']} ({r['family']}, {plural(r['rails'], 'rail')})"


def _slow(r: dict) -> float:
    return r["time_to_target_s"] if r["time_to_target_s"] is not None else 1.0 / r["rate"]


def _sentence(opts, rows: list[dict], fabric: str, reason: str, tie: float, cheap_ok: dict | None,
              cheapest: dict) -> str:
    unit = opts.obj.per_unit[0].removeprefix("USD per ")
    rec = next(r for r in rows if r["fabric"] == fabric)
    fast = min(rows, key=_slow)
    cheap = rows[0]
    if reason in ("none-meets", "closest"):
        d = _slow(rec) / _slow(fast) - 1.0
        tail = ("" if fast["fabric"] == rec["fabric"] else
                f"; {rec['fabric']} is within {pct(d)} of the fastest, {fast['fabric']}"
                + (", a tie" if d <= tie else "") + f", for {money(fast['tco_usd'] - rec['tco_usd'])} less")
        return f"No fabric meets every target on this hardware and node count{tail}."
    if reason == "needed":
        miss = cheapest  # the fastest of the cheaper fabric x rails on this hardware: it still misses
        return (f"{_name(rec)} is needed: the fastest cheaper option, {_name(miss)}, would take "
                f"{duration(miss['time_to_target_s'])}{_over(opts, miss)}: its {miss['node_bandwidth_GBps']:.3g} GB/s "
                f"per node (vs {rec['node_bandwidth_GBps']:.3g}) leaves {pct(miss['exposed_comm_share'])} of each step "
                f"in exposed communication (vs {pct(rec['exposed_comm_share'])}) or forces a slower layout; "
                f"buy {rec['fabric']}.")
    if reason == "lower-cost-per-unit":
        c = cheap_ok or cheap
        d = _slow(c) / _slow(rec) - 1.0
        k = -(rel_change(rec["cost_per_unit"], c["cost_per_unit"]) or 0.0)
        return (f"{_name(rec)} costs {money(rec['tco_usd'] - c['tco_usd'])} more over the horizon than the cheapest "
                f"option that also meets the targets, {_name(c)}, but is {pct(d)} faster, lowering the cost per "
                f"{unit} by {pct(k)} (beyond the ±{pct(tie)} tie threshold): buy {rec['fabric']}.")
    if len(rows) == 1:
        return (f"{_name(rec)} is the only fabric these servers can join (their NICs are built into the "
                f"accelerators or no other fabric fits): buy it.")
    if fast["fabric"] == rec["fabric"]:
        return f"{_name(rec)} is both the cheapest and the fastest fabric that meets the targets here: buy it."
    d = _slow(rec) / _slow(fast) - 1.0
    save = fast["tco_usd"] - rec["tco_usd"]
    if d <= tie:
        return (f"The cheaper fabric {_name(rec)} is within {pct(d)} of the fastest, {_name(fast)} — inside the "
                f"±{pct(tie)} tie threshold — and saves {money(save)} over the horizon: buy it.")
    return (f"{_name(fast)} would be {pct(d)} faster, but {_name(rec)} already meets the targets and saves "
            f"{money(save)}; the faster fabric does not lower the cost per {unit} by more than {pct(tie)}: "
            f"buy {rec['fabric']}.")


def _over(opts, r: dict) -> str:
    """', 12 days past the 30-day deadline' (or the relative shortfall of another target)."""
    d, t = opts.obj.deadline_s, r["time_to_target_s"]
    if d and t and t > d:
        return f", {duration(t - d)} past the {deadline(d)}"
    return "".join(f", {k} {pct(v)} short" for k, v in r["shortfall"].items())


def _family_sentence(rows: list[dict], fabric: str, tie: float) -> str:
    """The other families at their best, against the recommendation: the IB / RoCE / TCP answer."""
    rec = next(r for r in rows if r["fabric"] == fabric)
    parts = []
    all_miss = not rec["meets_targets"]
    for fam, best in _by_family(rows).items():
        if fam == rec["family"]:
            continue
        r = next(x for x in rows if x["fabric"] == best["fabric"])
        d, dc = _slow(r) / _slow(rec) - 1.0, r["tco_usd"] - rec["tco_usd"]
        cost = f"{money(abs(dc))} {'more' if dc > 0 else 'less'}"
        name = f"{r['fabric']} x {plural(r['rails'], 'rail')}"
        if not r["meets_targets"] and not all_miss:
            parts.append(f"{fam} misses the targets even at its best ({name}: {duration(r['time_to_target_s'])})")
        elif abs(d) <= tie:
            parts.append(f"{fam} at its best ({name}) is within {pct(abs(d))}, a tie, for {cost}")
        else:
            parts.append(f"{fam} at its best ({name}) is {pct(abs(d))} {'slower' if d > 0 else 'faster'} for {cost}")
    return (" Against the other families: " + "; ".join(parts) + ".") if parts else ""


def _measured(opts, m, i: int, rows: list[dict], abtests, tie: float, cat) -> dict | None:
    acc, _, _, nodes = opts.key(i)[:4]
    ab = next((a for a in abtests if a.get("accelerator") == acc), None)
    if ab is None:
        return None
    per_step = opts.global_batch * (opts.obj.tokens_per_sample if opts.obj.unit == "tokens" else 1)
    arms = []
    for a in ab["arms"]:
        proj = next((r for r in rows if r["fabric"] == a["fabric"]), None)
        rate = per_step / float(a["median_s"])
        t = opts.obj.work / rate if opts.obj.work else None
        cpu = proj["tco_usd"] / (rate * opts.obj.horizon_s) * opts.obj.per_unit[1] if proj else None
        arms.append({"fabric": a["fabric"], "rails": a.get("rails") or (proj or {}).get("rails"),
                     "median_step_s": float(a["median_s"]), "n": a.get("n"), "rate": rate, "time_to_target_s": t,
                     "tco_usd": proj["tco_usd"] if proj else None, "cost_per_unit": cpu, "label": "measured",
                     "meets_targets": _meets(opts, t, rate, proj)})
    out = {"run": ab.get("run"), "nodes": ab["nodes"], "arms": arms, "comparison": ab.get("comparison"),
           "applies": int(ab["nodes"]) == nodes}
    if not out["applies"]:
        out["note"] = (f"measured on {ab['nodes']} nodes, not the recommended {nodes}: shown for reference; the "
                       "projection decides")
        return out
    cmp = ab.get("comparison") or {}
    if cmp.get("decision") == "inconclusive":  # measure/ab_stats: neither a difference nor a tie is shown
        more = f"; about {cmp['more_pairs']} more rounds would likely settle it" if cmp.get("more_pairs") else ""
        return {**out, "applies": False, "note": f"the measured A/B is inconclusive (ratio {cmp.get('ratio', 1.0):.3g}, "
                f"interval {cmp.get('ci')}){more}: shown for reference; the projection decides"}
    out.update(_measured_decision(opts, arms, ab, tie))
    return out


def _meets(opts, t, rate, proj) -> bool:
    if proj is None:
        return False
    caps_ok = all(k in ("deadline", "throughput") for k in proj["shortfall"])
    d = opts.obj.deadline_s
    return caps_ok and (d is None or t is None or t <= d) and (not opts.obj.rate_required or rate >= opts.obj.rate_required)


def _measured_decision(opts, arms: list[dict], ab: dict, tie: float) -> dict:
    priced = [a for a in arms if a["tco_usd"] is not None]
    if not priced:
        return {"decision": "unpriced", "fabric": None, "rails": None,
                "sentence": "Measured fabrics are not in the catalogue; no measured decision."}
    cheap = min(priced, key=lambda a: a["tco_usd"])
    fast = min(priced, key=lambda a: a["median_step_s"])
    cmp = ab.get("comparison") or {}
    d = cheap["median_step_s"] / fast["median_step_s"] - 1.0
    is_tie = bool(cmp["tie"]) if "tie" in cmp else d <= tie
    ci = cmp.get("ci")
    ev = f" (95 % CI of the ratio {ci[0]:.3g}-{ci[1]:.3g}" + (f", p = {cmp['p_value']:.2g}" if "p_value" in cmp else "") \
        + ")" if ci else ""
    where = f"Measured on your {ab['nodes']} x {ab['accelerator']} nodes"
    if fast is cheap or (is_tie and cheap["meets_targets"]):
        return {"decision": "measured-tie" if fast is not cheap else "measured-cheapest-fastest", "fabric": cheap["fabric"],
                "rails": cheap["rails"], "sentence": f"{where}: {cheap['fabric']} is within {pct(d)} of "
                f"{fast['fabric']}{ev}, a tie: buy the cheaper {cheap['fabric']}."}
    if not cheap["meets_targets"] or (fast["cost_per_unit"] or 0) < (cheap["cost_per_unit"] or 0) * (1 - tie):
        return {"decision": "measured-faster-needed", "fabric": fast["fabric"], "rails": fast["rails"],
                "sentence": f"{where}: {fast['fabric']} is {pct(d)} faster than {cheap['fabric']}{ev}, which "
                f"{'misses the targets' if not cheap['meets_targets'] else 'costs more per unit of work'}: "
                f"buy {fast['fabric']}."}
    return {"decision": "measured-cheaper-enough", "fabric": cheap["fabric"], "rails": cheap["rails"],
            "sentence": f"{where}: {fast['fabric']} is {pct(d)} faster{ev}, but {cheap['fabric']} meets the targets "
            f"at a lower cost per unit of work: buy {cheap['fabric']}."}
