"""`rax calibrate RUN` on a compute sweep: fit the compute model on some batch sizes, predict the rest.

A compute run (`rax bench compute`, kind "compute"; measure/compute.py) stores one point per
(mode, precision, batch) with the measured step time (result.summary.median), the workload card
(artifact "card") and the peaks it measured (artifact "peaks": GEMM FLOP/s per precision measured
in the same run, plus the catalogue's dense peaks when the device is a catalogue accelerator).
The roofline-per-op-class model of `calibrate.fit` (matmul/attention/conv efficiencies, memory
efficiency, per-step overhead) is fitted on the training points of some batch sizes and predicts
the others; the per-point errors are stored on the run as artifact "calibration" (the run's points
are never modified; artifacts may be added to a completed run).

Default split, per precision: fit on the smallest and the largest batch measured, predict the ones
in between (issue 7: "fit on two batch sizes, predict the others"); `fit_on` or `holdout` (batch
sizes) choose another split, e.g. fit on the two smallest to test extrapolation.

Basis of the efficiencies: on a catalogue GPU its dense peak and HBM bandwidth (the priors' basis,
so the fit replaces them). Elsewhere (a CPU) the GEMM peak measured in the same run and the STREAM
triad of the latest `rax bench kernels` run on the same machine (without one, a nominal bandwidth,
said so in the notes): the efficiencies are then fractions of what this machine reaches.
"""

from __future__ import annotations

import statistics

from raxlab.errors import RaxError
from raxlab.predict import calibrate
from raxlab.predict.hardware import Efficiency

NOMINAL_CPU_BW = 10e9  # B/s; only the prior's centre: the fitted memory efficiency absorbs it
# A measured basis (probed GEMM peak, STREAM triad) is itself noisy on a shared host, so fitted
# fractions of it may exceed 1; a datasheet basis keeps the cap at 1.
MEASURED_BASIS_MAX_EFF = 4.0
# Prior centres for a CPU, as fractions of the GEMM peak measured in the run (estimates: in-step
# GEMMs are smaller than the probe's 2048² ones; attention's batched GEMMs smaller still).
CPU_PRIOR = dict(matmul=0.7, attention=0.35, mem_bw=0.8)
CPU_PRIOR_SOURCE = "CPU prior centres (estimates)"


def _run_of_kind(store, ref: str, kind: str) -> dict:
    run = store.get_run(ref)
    if run["kind"] != kind:
        raise RaxError(f"run {run['id']} is a {run['kind']!r} run, not {kind!r}", field="RUN")
    return run


STATS = ("median", "q1", "min")  # which step-time statistic of each point to fit and predict


def compute_points(runs, stat: str = "median") -> list[calibrate.MeasuredPoint]:
    """Measured training points of one compute run, or of repeats of the same sweep (a list of runs:
    each point's samples are pooled over the repeats, so a stretch of interference on a shared
    machine is diluted instead of landing on one batch size), with the card's FLOPs and bytes per
    op class. `stat` q1 or min: other jobs only ever add time, so a low quantile is the more
    reproducible estimate of what the machine does (the median is the reported convention)."""
    from raxlab.stats import summarize

    runs = runs if isinstance(runs, list) else [runs]
    if stat not in STATS:
        raise RaxError(f"unknown statistic {stat!r}; allowed: {', '.join(STATS)}", field="--stat")
    card = (runs[0].get("artifacts") or {}).get("card")
    if not card:
        raise RaxError(f"run {runs[0]['id']} has no workload card artifact; re-run `rax bench compute`", field="RUN")
    _same_sweep(runs)
    pooled: dict[tuple, dict] = {}
    for run in runs:
        for p in run["points"]:
            if p["kind"] == "compute" and p["status"] == "ok" and p["samples"]:
                key = tuple(p["params"].get(k) for k in ("mode", "precision", "batch"))
                pooled.setdefault(key, {"point": p["params"], "samples": []})["samples"] += p["samples"]
    results = [{"point": v["point"], "summary": {"median": getattr(summarize(v["samples"]), stat)}}
               for v in pooled.values()]
    traced = 4.0 if (card.get("trace") or {}).get("dtype", "float32") == "float32" else 2.0
    points = calibrate.points_from_compute_results(results, card, traced_bytes=traced)
    if len(points) < 3:
        raise RaxError(f"{len(points)} successful training points; calibrating and back-testing needs at least 3 "
                       "(e.g. `rax bench compute W --micro-batch 1,2,4,8,16 --modes train`)", field="RUN")
    return points


def _same_sweep(runs: list[dict]) -> None:
    first = runs[0]
    for run in runs[1:]:
        same = run["workload"] == first["workload"] and \
            (run.get("params") or {}).get("device") == (first.get("params") or {}).get("device")
        if not same:
            raise RaxError(f"run {run['id']} is not a repeat of run {first['id']} (workload and device differ)",
                           field="RUN")


def basis(store, run: dict) -> tuple[dict, float, Efficiency, list[str]]:
    """(peaks per dtype, memory bandwidth, prior, notes) the efficiencies are fractions of."""
    peaks = (run.get("artifacts") or {}).get("peaks") or {}
    if peaks.get("catalog_entry") and peaks.get("catalog"):
        return _catalog_basis(peaks)
    measured = {d: float(v) for d, v in (peaks.get("measured") or {}).items() if v}
    if not measured:
        raise RaxError(f"run {run['id']} measured no GEMM peak and its device is not in the catalogue: nothing "
                       "to express efficiencies against (re-run `rax bench compute` without --no-gemm-probe)",
                       field="RUN")
    bw, note = _stream_bandwidth(store, run)
    prior = Efficiency(matmul={d: CPU_PRIOR["matmul"] for d in measured}, attention=CPU_PRIOR["attention"],
                       attention_flash1=CPU_PRIOR["attention"], mem_bw=CPU_PRIOR["mem_bw"],
                       source=CPU_PRIOR_SOURCE)
    return measured, bw, prior, [f"efficiencies are fractions of the GEMM peak measured in run {run['id']}", note]


def _catalog_basis(peaks: dict):
    from raxlab.catalog import load_catalog
    from raxlab.predict import priors

    acc = load_catalog().accelerator(peaks["catalog_entry"])
    dense = {d: float(v) for d, v in peaks["catalog"].items() if v}
    prior, _ = priors.efficiency_prior(acc.name, peaks=dense)
    return dense, acc.mem_bw_Bps, prior, [f"efficiencies are fractions of the {acc.name} catalogue peaks"]


def _stream_bandwidth(store, run: dict) -> tuple[float, str]:
    """STREAM triad of the latest kernels run on the same machine, or the nominal bandwidth."""
    machine = ((run.get("fingerprints") or {}).get("host") or {}).get("machine_id")
    for other in store.list_runs(limit=200, kind="kernels"):
        full = store.get_run(other["id"])
        if machine and ((full.get("fingerprints") or {}).get("host") or {}).get("machine_id") != machine:
            continue
        bw = (((full.get("artifacts") or {}).get("ceilings") or {}).get("bandwidth_Bps") or {}).get("stream_triad")
        if bw:
            return float(bw), f"memory bandwidth: STREAM triad {bw / 1e9:.3g} GB/s of kernels run {other['id']}"
    return NOMINAL_CPU_BW, (f"memory bandwidth: no `rax bench kernels` run on this machine; nominal "
                            f"{NOMINAL_CPU_BW / 1e9:g} GB/s (the fitted memory efficiency absorbs the scale)")


def split(points, fit_on=None, holdout=None):
    """Predicate `fit(point) -> bool` for the fitting subset (see module docstring)."""
    if fit_on and holdout:
        raise RaxError("give --fit-on or --holdout, not both", field="--holdout")
    if fit_on:
        chosen = {int(b) for b in fit_on}
        return lambda p: p.batch in chosen
    if holdout:
        held = {int(b) for b in holdout}
        return lambda p: p.batch not in held
    ends = {}
    for p in points:
        ends.setdefault(p.precision, set()).add(p.batch)
    ends = {d: {min(bs), max(bs)} for d, bs in ends.items()}
    return lambda p: p.batch in ends[p.precision]


def calibrate_compute_run(store, ref, fit_on=None, holdout=None, stat: str = "median",
                          save: bool = True) -> dict:
    """Fit on part of a stored compute sweep (`ref`: a run, or a list of repeats of the same sweep),
    predict the rest; store artifact "calibration" on every run used."""
    runs = [_run_of_kind(store, r, "compute") for r in (ref if isinstance(ref, (list, tuple)) else [ref])]
    points = compute_points(runs, stat)
    peaks, bw, prior, notes = basis(store, runs[0])
    max_eff = 1.0 if prior.source != CPU_PRIOR_SOURCE else MEASURED_BASIS_MAX_EFF
    chooser = split(points, fit_on, holdout)
    train = [p for p in points if chooser(p)]
    if not train or len(train) == len(points):
        raise RaxError(f"the split leaves {len(train)} of {len(points)} points to fit on: fit on some batch sizes "
                       f"of {sorted({p.batch for p in points})} and hold out the others", field="--holdout")
    cal = calibrate.fit(train, peaks, bw, prior, max_eff=max_eff)
    rows = [_row(p, chooser(p), calibrate.predict(cal, p, peaks, bw), runs) for p in points]
    out = {"run": runs[0]["id"], "runs": [r["id"] for r in runs], "kind": "compute", "workload": runs[0]["workload"],
           "statistic": stat, "basis": {"peaks_flops": peaks, "mem_bw_Bps": bw}, "fit_on": [p.label for p in train],
           "rows": rows, "held_out": _summary([r for r in rows if r["role"] == "held-out"]), "fitted": _fitted(cal),
           "notes": [n for n in notes + [skipped_note(runs)] if n]}
    if save:
        for run in runs:
            store.put_artifact(run["id"], "calibration", out)
    return out


def skipped_note(runs: list[dict]) -> str | None:
    """Which training points the fit left out because they contradict their series (point status
    `inconsistent`, measure/consistency.py), or None."""
    bad = [f"{p['name']} (point {p['id']}{', run ' + run['id'] if len(runs) > 1 else ''})" for run in runs
           for p in run["points"] if p["kind"] == "compute" and p["status"] == "inconsistent"
           and (p.get("params") or {}).get("mode") == "train"]
    if not bad:
        return None
    return (f"skipped {len(bad)} inconsistent measurement(s), which contradict the other batch sizes of their "
            f"series even after re-measuring, or were re-measured: {', '.join(bad)}")


def _row(p, fitted: bool, pred: float, runs: list[dict]) -> dict:
    noisy = any(bool(((q["result"] or {}).get("summary") or {}).get("noisy")) for run in runs for q in run["points"]
                if q["kind"] == "compute" and q["name"] == f"train/{p.precision}/b{p.batch}")
    return {"label": p.label, "precision": p.precision, "batch": p.batch, "role": "fit" if fitted else "held-out",
            "measured_s": p.step_time_s, "predicted_s": pred, "error": pred / p.step_time_s - 1.0, "noisy": noisy}


def _summary(rows: list[dict]) -> dict:
    errs = [abs(r["error"]) for r in rows]
    return {"n": len(errs), "median_abs": statistics.median(errs) if errs else None,
            "max_abs": max(errs) if errs else None}


def _fitted(cal: calibrate.Calibration) -> dict:
    return {"matmul": dict(cal.eff.matmul), "attention": cal.eff.attention, "conv": cal.conv,
            "mem_bw": cal.eff.mem_bw, "step_overhead_s": cal.overhead_s}
