"""Calibrate the compute model on measured steps, and back-test it on held-out ones.

Input is a plain list of `MeasuredPoint`s (one device, one precision and batch each: the
measured step time and the card's FLOPs and bytes per op class for that batch), so this works
on whatever the measurement layer stores. The model per point is the roofline sum

    t = Σ_c max(F_c / (peak_dtype · e_c), B_c / (bw · e_bw)) + overhead

with unknowns e_matmul per precision, e_attention, e_conv, e_bw and a per-step overhead. The
fit minimises relative (log) error with a weak pull toward the priors (so a parameter the
points cannot see, e.g. attention in a CNN, stays at its prior instead of wandering):
maximum a posteriori with a log-normal prior of width `PRIOR_SIGMA`.

`backtest(points, fit_on)` fits on a subset (e.g. two batch sizes) and reports the error of
every other point: the number the projection's error band should come from once a customer's
hardware has been measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from raxlab.errors import RaxError
from raxlab.predict.hardware import Efficiency

PRIOR_SIGMA = 0.5  # log-space width of the pull toward the prior (a factor of ~1.6)
OVERHEAD_SIGMA = 5.0  # the per-step overhead has no informative prior: a very weak pull
NOISE = 0.05  # relative scatter of a measured step time (timing noise, clocks), for the weighting
CLASSES = ("matmul", "attention", "conv", "other")


@dataclass(frozen=True)
class MeasuredPoint:
    precision: str
    batch: int
    step_time_s: float
    flops: dict  # class -> FLOPs of the step (forward + backward)
    bytes: dict  # class -> bytes of the step
    label: str = ""


@dataclass
class Calibration:
    eff: Efficiency
    overhead_s: float
    conv: float
    fitted_on: list[str] = field(default_factory=list)
    residuals: list[float] = field(default_factory=list)  # relative errors on the fitted points


def _unpack(x, precisions):
    mm = dict(zip(precisions, np.exp(x[: len(precisions)])))
    attn, conv, bw = np.exp(x[len(precisions): len(precisions) + 3])
    return mm, attn, conv, bw, float(np.exp(x[-1]))


def model_time(p: MeasuredPoint, peaks: dict, mem_bw: float, mm: dict, attn: float, conv: float, bw: float,
               overhead: float) -> float:
    eff = {"matmul": mm[p.precision], "attention": attn, "conv": conv, "other": None}
    t = overhead
    for c in CLASSES:
        f, b = float(p.flops.get(c, 0)), float(p.bytes.get(c, 0)) + (float(p.bytes.get("norm", 0)) if c == "other" else 0)
        t_mem = b / (mem_bw * bw)
        t += t_mem if eff[c] is None else max(f / (peaks[p.precision] * eff[c]), t_mem)
    return t


def fit(points: list[MeasuredPoint], peaks: dict, mem_bw: float, prior: Efficiency,
        prior_overhead_s: float = 1e-4, max_eff: float = 1.0) -> Calibration:
    """Fit efficiencies and overhead to `points` (peaks: dtype → FLOP/s; mem_bw: datasheet B/s).
    `max_eff` > 1 when the basis is itself a measurement (a CPU's probed GEMM peak and STREAM
    rate, taken under other load than the steps) rather than a datasheet limit."""
    from scipy.optimize import least_squares

    if not points:
        raise RaxError("no measured points to calibrate on", field="points")
    precs = sorted({p.precision for p in points})
    missing = [d for d in precs if d not in peaks]
    if missing:
        raise RaxError(f"no peak for {', '.join(missing)}", field="precision")
    x0 = np.log([prior.matmul_for(d) for d in precs] + [prior.attention, prior.matmul_for(precs[0]),
                                                          prior.mem_bw, prior_overhead_s])

    def resid(x):
        mm, attn, conv, bw, ovh = _unpack(x, precs)
        r = [np.log(model_time(p, peaks, mem_bw, mm, attn, conv, bw, ovh) / p.step_time_s) / NOISE for p in points]
        sigma = np.r_[np.full(len(x) - 1, PRIOR_SIGMA), OVERHEAD_SIGMA]
        return np.concatenate([r, (x - x0) / sigma])

    lo = np.log([0.01] * (len(precs) + 3) + [1e-7])
    hi = np.log([max_eff] * (len(precs) + 3) + [10.0])
    start = x0.copy()
    start[-1] = np.log(0.05 * min(p.step_time_s for p in points))  # overhead: start inside the data's scale
    sol = least_squares(resid, np.clip(start, lo + 1e-9, hi - 1e-9), bounds=(lo, hi), x_scale="jac")
    mm, attn, conv, bw, ovh = _unpack(sol.x, precs)
    eff = replace(prior, matmul={**prior.matmul, **{k: float(v) for k, v in mm.items()}}, attention=float(attn),
                  mem_bw=float(bw), step_overhead_s=ovh, source=f"calibrated on {len(points)} measured points")
    res = [float(np.expm1(r * NOISE)) for r in resid(sol.x)[: len(points)]]
    return Calibration(eff=eff, overhead_s=ovh, conv=float(conv), fitted_on=[p.label for p in points], residuals=res)


def predict(cal: Calibration, p: MeasuredPoint, peaks: dict, mem_bw: float) -> float:
    return model_time(p, peaks, mem_bw, dict(cal.eff.matmul), cal.eff.attention, cal.conv, cal.eff.mem_bw,
                      cal.overhead_s)


def backtest(points: list[MeasuredPoint], fit_on, peaks: dict, mem_bw: float, prior: Efficiency) -> dict:
    """Fit on the points selected by `fit_on` (a predicate), predict the rest.

    Returns the calibration and per held-out point (label, measured, predicted, relative error),
    plus the median and max |error|."""
    train = [p for p in points if fit_on(p)]
    test = [p for p in points if not fit_on(p)]
    cal = fit(train, peaks, mem_bw, prior)
    rows = [(p.label, p.step_time_s, pred := predict(cal, p, peaks, mem_bw), pred / p.step_time_s - 1) for p in test]
    errs = [abs(r[3]) for r in rows]
    return {"calibration": cal, "rows": rows, "median_abs": float(np.median(errs)) if errs else None,
            "max_abs": max(errs) if errs else None}


def points_from_compute_results(results: list[dict], card, traced_bytes: float = 4.0) -> list[MeasuredPoint]:
    """MeasuredPoints from stored compute-sweep results (measure/compute.py: result['point']
    = {precision, batch, mode}, result['summary']['median'] = seconds per step) of `card`'s
    workload (a WorkloadCard or its stored dict). Training points only. The card's bytes were
    traced in fp32 (`traced_bytes`); for 16-bit runs they are scaled by 2/4 (autocast keeps fp32
    master weights, so this slightly undercounts weight traffic)."""
    out = []
    per_flops, per_bytes, fixed_bytes = (_card_field(card, k) for k in
                                         ("flops_by_class", "bytes_by_class", "bytes_fixed_by_class"))
    for r in results:
        p = r.get("point") or {}
        if p.get("mode") != "train" or not r.get("summary", {}).get("median"):
            continue
        b = int(p["batch"])
        scale = {"bf16": 2.0, "fp16": 2.0}.get(p["precision"], 4.0) / traced_bytes
        flops = {c: per_flops.get(c, 0) * b for c in CLASSES}
        nbytes = {c: (per_bytes.get(c, 0) * b + fixed_bytes.get(c, 0)) * scale for c in (*CLASSES, "norm")}
        out.append(MeasuredPoint(p["precision"], b, float(r["summary"]["median"]), flops, nbytes,
                                 label=f"{p['precision']}/b{b}"))
    return out


def _card_field(card, key: str) -> dict:
    return dict(card[key] if isinstance(card, dict) else getattr(card, key))
