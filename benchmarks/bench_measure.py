"""Measurement quality: noise of repeated runs, harness overhead, GEMM peak vs theory."""

from __future__ import annotations

import time

import numpy as np

TITLE = "Measurement harness: noise, overhead, GEMM peak"
TARGET = ("CV of the median over 5 repeated runs < 5 % (quiet machine); harness overhead < 1 us per op; "
          "fp32 GEMM >= 50 % of the CPU's theoretical peak")


def _noise(label: str, fn, args) -> dict:
    from raxlab.measure.isolate import run_isolated

    medians = []
    for _ in range(5):  # each repetition in a fresh child: start-up effects included, as in a sweep
        out = run_isolated(fn, *args, timeout_s=300)
        if out.status != "ok":
            return {"case": label, "note": out.error.splitlines()[0]}
        medians.append(out.value["summary"]["median"])
    cv = float(np.std(medians, ddof=1) / np.mean(medians))
    return {"case": label, "median_of_medians_ms": float(np.median(medians)) * 1e3, "cv_of_medians": cv,
            "pass": cv < 0.05}


def _overhead() -> dict:
    from raxlab.measure.timing import Policy, Spec, measure

    data = []
    res = measure(Spec("append", run=lambda s: s.append(1), setup=lambda: data),
                  Policy(min_reps=10, max_reps=50, min_sample_s=5e-3))
    n = res.inner * 20
    t0 = time.perf_counter_ns()
    for _ in range(n):
        data.append(1)
    raw = (time.perf_counter_ns() - t0) / 1e9 / n
    over = res.summary.median - raw
    return {"case": "harness overhead (list.append)", "harness_ns_per_op": res.summary.median * 1e9,
            "raw_loop_ns_per_op": raw * 1e9, "overhead_ns_per_op": over * 1e9, "pass": over < 1e-6}


def _gemm_peak() -> dict:
    from raxlab.measure.fingerprint import fingerprint
    from raxlab.measure.kernels import GEMM_SHAPES, KernelPoint, cpu_theoretical_peak, run_kernel_point
    from raxlab.measure.timing import Policy

    best = 0.0
    for shape in GEMM_SHAPES["cpu"]:
        out = run_kernel_point(KernelPoint("gemm", "cpu", "fp32", shape), Policy(min_reps=5, max_seconds=3))
        best = max(best, out["flop_rate"])
    th = cpu_theoretical_peak(fingerprint())
    frac = best / th["fp32_flops"] if th else None
    return {"case": "GEMM fp32 peak vs CPU theory", "measured_gflops": best / 1e9,
            "theoretical_gflops": th["fp32_flops"] / 1e9 if th else None, "fraction": frac,
            "pass": frac is not None and frac >= 0.5}


def run() -> list[dict]:
    from raxlab.measure.compute import ComputePoint, run_compute_point
    from raxlab.measure.kernels import KernelPoint, run_kernel_point
    from raxlab.measure.timing import Policy

    import os

    pol = Policy(min_reps=10, max_reps=50, max_seconds=3)
    rows = [
        _noise("noise: GEMM fp32 1024^3", run_kernel_point, (KernelPoint("gemm", "cpu", "fp32", (1024,) * 3), pol)),
        _noise("noise: small-cnn train fp32 b8", run_compute_point,
               (ComputePoint("small-cnn", False, "fp32", 8, "train", "cpu"), pol)),
        _overhead(),
        _gemm_peak(),
    ]
    load = os.getloadavg()[0]  # other processes on the cores inflate the noise: show it
    return [{**r, "load_1min": round(load, 2)} for r in rows]
