"""How the recommendation moves when prices, the deadline or the projected efficiency move.

Each scenario re-runs the whole choice (`verdicts.recommend`: cheapest option meeting every
target, then the network rule) over the already evaluated options, so it costs no new
projection: prices scale CAPEX parts (GPU servers, NICs, switches/cables, storage) or the
electricity price by ±20 %; the deadline moves to 0.5-2x; the projected speed moves to the low
and high end of the projection's error band (the validation spread in
`predict/data/error_band.yaml`: published / projected − 1).
"""

from __future__ import annotations

from raxlab.plan.options import Options, Scenario
from raxlab.plan.text import pct

PRICE_MOVES = (0.8, 1.2)
DEADLINE_MOVES = (0.5, 0.75, 1.5, 2.0)


def _scenarios(opts: Options, band) -> list[tuple[str, str, Scenario]]:
    out = []
    for f in PRICE_MOVES:
        tag = f"{(f - 1) * 100:+.0f} %"
        out.append(("prices", f"all hardware prices {tag}", Scenario(prices=dict.fromkeys(
            ("servers", "nics", "network", "storage"), f))))
        out.append(("prices", f"GPU server prices {tag}", Scenario(prices={"servers": f})))
        out.append(("prices", f"network prices {tag}", Scenario(prices={"nics": f, "network": f})))
        out.append(("prices", f"electricity {tag}", Scenario(energy=f)))
    d = opts.obj.deadline_s
    if d and opts.obj.work:
        for f in DEADLINE_MOVES:
            out.append(("deadline", f"deadline x {f:g}", Scenario(deadline_s=d * f)))
    if band is not None:
        out.append(("efficiency", f"efficiency at the low end of the band ({pct(band.low)})", Scenario(speed=1 + band.low)))
        out.append(("efficiency", f"efficiency at the high end of the band ({pct(band.high)})", Scenario(speed=1 + band.high)))
    return out + _generation_scenarios(opts)


def _generation_scenarios(opts: Options) -> list[tuple[str, str, Scenario]]:
    """Each GPU generation among the options at the low and the high end of its own error band
    (data/error_band.yaml) while the others stay as projected: does the GPU choice survive the
    per-generation uncertainty? A generation without validated runs takes the widest band."""
    from raxlab.predict import errorband

    gens = sorted(set(opts.generations()))
    if len(gens) < 2:
        return []
    out = []
    for g in gens:
        b = errorband.band("train", g)
        if b is None:
            continue
        tag = f"{b.n} validated runs" if b.validated else "not validated: widest band"
        for end, f in (("low", b.low), ("high", b.high)):
            out.append(("generation", f"{g} at the {end} end of its band ({pct(f)}, {tag})",
                        Scenario(speed_by_generation={g: 1 + f})))
    return out


def _short(opts: Options, i: int | None) -> dict | None:
    if i is None:
        return None
    acc, srv, prec, nodes, fabric, rails = opts.key(i)
    return {"accelerator": acc, "server": srv, "precision": prec, "nodes": nodes, "fabric": fabric, "rails": rails}


def sensitivity(opts: Options, base_index: int, band, tie: float, recommend) -> dict:
    """Scenario rows (kind, scenario, recommendation, changed, TCO, time, meets) and a sentence."""
    base = _short(opts, base_index)
    rows = []
    for kind, name, sc in _scenarios(opts, band):
        j, m, _ = recommend(opts, sc, tie)
        rec = _short(opts, j)
        rows.append({"kind": kind, "scenario": name, "recommendation": rec, "changed": rec != base,
                     "what_changed": _diff(base, rec),
                     "tco_usd": float(m["tco"][j]) if j is not None else None,
                     "time_to_target_s": float(m["time"][j]) if j is not None and opts.obj.work else None,
                     "meets_targets": bool(m["meets"][j]) if j is not None else False})
    return {"rows": rows, "sentence": _sentence(rows)}


def _diff(a: dict | None, b: dict | None) -> str:
    if a is None or b is None:
        return "no option"
    ch = [f"{k} {a[k]} -> {b[k]}" for k in a if a[k] != b[k]]
    return ", ".join(ch) if ch else "unchanged"


def _sentence(rows: list[dict]) -> str:
    stable = [r for r in rows if r["kind"] == "prices" and not r["changed"]]
    moved = [r for r in rows if r["changed"]]
    prices = [r for r in rows if r["kind"] == "prices"]
    head = ("The recommendation holds when prices move ±20 %" if len(stable) == len(prices) and prices
            else "Price moves change the recommendation")
    gen_moves = [r for r in rows if r["kind"] == "generation" and r["changed"]]
    if gen_moves:
        head += ("; the GPU choice depends on the per-generation uncertainty (" +
                 "; ".join(f"{r['scenario']}: {r['what_changed']}" for r in gen_moves[:2]) + ")")
    if not moved:
        return head + ", and under every deadline and efficiency scenario tried."
    tail = "; ".join(f"{r['scenario']}: {r['what_changed']}" + ("" if r["meets_targets"] else " (misses the targets)")
                     for r in moved[:4])
    return f"{head}. It changes with {tail}" + (f" (and {len(moved) - 4} more)" if len(moved) > 4 else "") + "."
