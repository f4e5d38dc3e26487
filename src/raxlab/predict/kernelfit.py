"""Fit the kernel-level parameters of `data/kernels.yaml` to the measured kernel tables.

    python -m raxlab.predict.kernelfit       # prints the fits and their errors on the tables

Inputs are published kernel measurements only (`data/kernel_evidence/*.csv`, each with its
source in its header): OpenXLA's measured matmul tables for sm_90 (H100) and sm_100 (B200),
tilelang's FP8 K-sweep on H800, and the FlashAttention-3 paper's attention curves on H100.
No end-to-end training run enters any fit. `tests/predict/test_kernelfit.py` checks that the
numbers in kernels.yaml are what these fits give.

GEMM: the ceiling e_max is pinned to the GPU's MAMF fraction (best-shape achievable matmul),
so only K0 (pipeline fill, in K elements) and the fixed per-kernel time are fitted, in log
space, over every shape of the table. Attention: e_inf and s0 of e(s) = e_inf·s/(s+s0) per
kernel and pass.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from raxlab.predict.gemm import attention_efficiency, gemm_time

EVIDENCE = Path(__file__).parent / "data" / "kernel_evidence"

# (family, dtype) -> (table, column, peak FLOP/s, HBM B/s, SMs, MAMF fraction, bytes per element).
# Peaks, bandwidth and MAMF: the catalogue's h100-sxm / b200-sxm entries (ml-engineering tables).
# MAMF None: the table's own ceiling is fitted too (tilelang's FP8 kernel runs above cuBLAS's
# MAMF, so only its K dependence is taken; one shape family, so no fixed time is fitted).
GEMM_FITS = {
    ("hopper", "bf16"): ("xla_matmul_sm90.csv", "bf16_tflops", 989e12, 3.35e12, 132, 794.5 / 989, 2.0),
    ("blackwell", "bf16"): ("xla_matmul_sm100.csv", "bf16_tflops", 2250e12, 8.0e12, 148, 1745.0 / 2250, 2.0),
    ("blackwell", "fp8"): ("xla_matmul_sm100_fp8.csv", "fp8_tflops", 4500e12, 8.0e12, 148, 3432.5 / 4500, 1.0),
    ("hopper", "fp8"): ("tilelang_fp8_h800.csv", "fp8_tflops", 1979e12, 3.35e12, 132, None, 1.0),
}


def read_table(name: str) -> list[dict]:
    with open(EVIDENCE / name, newline="") as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


def _gemm_arrays(rows: list[dict], col: str):
    a = np.array([[float(r["b"]), float(r["m"]), float(r["n"]), float(r["k"]), float(r[col])] for r in rows])
    t = 2 * a[:, 0] * a[:, 1] * a[:, 2] * a[:, 3] / (a[:, 4] * 1e12)
    return a, t


def fit_gemm(family: str, dtype: str) -> dict:
    """K0 and fixed time for one (family, dtype), with the table's errors under the fit."""
    from scipy.optimize import least_squares

    table, col, peak, bw, sms, mamf, nbytes = GEMM_FITS[(family, dtype)]
    a, t = _gemm_arrays(read_table(table), col)

    def predict(x):
        e_max, fixed = (mamf, x[1]) if mamf else (x[1], 0.0)
        return gemm_time(a[:, 1], a[:, 2], a[:, 3], batch=a[:, 0], peak=peak, e_max=e_max, k0=x[0], sms=sms,
                         fixed_s=fixed * 1e-6, mem_bw=bw, in_bytes=nbytes, out_bytes=2.0)

    x0, hi = ([128.0, 3.0], [4096, 30]) if mamf else ([128.0, 0.7], [4096, 1.0])
    sol = least_squares(lambda x: np.log(predict(x)) - np.log(t), x0=x0, bounds=([0, 0], hi))
    err = t / predict(sol.x) - 1  # measured throughput / predicted - 1 (positive: model pessimistic)
    return {"k0": float(sol.x[0]), "fixed_us": float(sol.x[1]) if mamf else None,
            "table_ceiling": None if mamf else float(sol.x[1]), "n": int(len(t)),
            "median_abs": float(np.median(np.abs(err))), "p90_abs": float(np.percentile(np.abs(err), 90)),
            "median_signed": float(np.median(err)), "source_table": table}


def fit_attention(kernel: str, pass_: str, causal: bool, head_dim: int = 128, peak: float = 989e12) -> dict:
    """e_inf and s0 for one kernel/pass curve of the FlashAttention-3 paper (H100)."""
    from scipy.optimize import least_squares

    rows = [r for r in read_table("attention_fa3_paper_h100.csv") if r["pass"] == pass_
            and (r["causal"] == "true") == causal and int(r["head_dim"]) == head_dim]
    s = np.array([float(r["seq"]) for r in rows])
    e = np.array([float(r[f"{kernel}_tflops"]) * 1e12 / peak for r in rows])
    sol = least_squares(lambda x: np.log(attention_efficiency(s, x[0], x[1])) - np.log(e), x0=[0.5, 300.0],
                        bounds=([0.05, 0.0], [1.0, 8192.0]))
    err = e / attention_efficiency(s, *sol.x) - 1
    return {"e_inf": float(sol.x[0]), "s0": float(sol.x[1]), "n": int(len(s)),
            "max_abs": float(np.max(np.abs(err)))}


ATTENTION_FITS = {(k, p, c): None for k in ("fa2", "cudnn") for p, c in (("fwd", True), ("fwd", False), ("bwd", False))}


def fit_all() -> dict:
    out = {"gemm": {f"{f}.{d}": fit_gemm(f, d) for f, d in GEMM_FITS}}
    out["attention"] = {f"{k}.{p}.{'causal' if c else 'full'}": fit_attention(k, p, c) for k, p, c in ATTENTION_FITS}
    return out


def main() -> None:
    res = fit_all()
    for key, r in res["gemm"].items():
        fixed = f"fixed {r['fixed_us']:5.2f} us" if r["fixed_us"] is not None else f"ceiling {r['table_ceiling']:.3f}"
        print(f"gemm {key:16s} K0 {r['k0']:6.0f}  {fixed}  on {r['n']:3d} shapes of "
              f"{r['source_table']}: median |err| {100 * r['median_abs']:.1f} %, p90 {100 * r['p90_abs']:.1f} %, "
              f"median signed {100 * r['median_signed']:+.1f} %")
    for key, r in res["attention"].items():
        print(f"attention {key:18s} e_inf {r['e_inf']:.3f}  s0 {r['s0']:6.0f}  (n {r['n']}, max |err| "
              f"{100 * r['max_abs']:.1f} %)")


if __name__ == "__main__":
    main()
