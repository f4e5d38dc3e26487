"""Kernel-level time of one GEMM and one attention kernel, from published kernel measurements.

GEMM (M×K by K×N, `batch` of them), the model fitted to measured shape tables
(`data/kernel_evidence/`, fitted by `kernelfit.py`, parameters in `data/kernels.yaml`):

    t = fixed + max(F / (peak · e_max · u · K/(K + K0)),  bytes / achievable HBM bandwidth)

- `e_max`: the large-shape ceiling, the accelerator's MAMF fraction (measured achievable
  matmul, best shape; ml-engineering MAMF table, catalog-facts §1a);
- `u`: tile and wave quantization: the output is cut into 64×128 tiles (the tile that fits the
  measured tables best) spread over the SMs in waves; the last wave runs part-empty
  (NVIDIA "Matrix Multiplication Background" user guide, wave quantization). Small and
  TP-split GEMMs lose most here, and more so on GPUs with more SMs;
- `K/(K + K0)`: the main loop's share of a tile's time (prologue, epilogue, pipeline fill);
- `fixed`: per-kernel time that does not shrink with the work (launch, setup, tail).

Attention (fused flash-class kernels) runs at an efficiency that grows with the sequence
length and saturates: e(s) = e_inf · s / (s + s0), per pass (forward, backward) and kernel
generation, fitted to the FlashAttention-3 paper's H100 curves and anchored per GPU on its
own kernel measurements (`data/kernels.yaml`).

Everything broadcasts over numpy arrays (candidates × shapes).
"""

from __future__ import annotations

import numpy as np

TILE_M = 64.0  # output tile rows (kernelfit.py: best fit of 64×128, 128×128, 128×256 tiles)
TILE_N = 128.0


def wave_utilisation(m, n, batch, sms):
    """Share of the SMs' tile slots doing useful work (1 when there is no SM count)."""
    m, n, batch, sms = (np.asarray(x, dtype=float) for x in (m, n, batch, sms))
    tiles = batch * np.ceil(m / TILE_M) * np.ceil(n / TILE_N)
    safe_sms = np.maximum(sms, 1.0)
    waves = np.ceil(tiles / safe_sms)
    u = batch * m * n / np.maximum(waves * safe_sms * TILE_M * TILE_N, 1.0)
    return np.where(sms > 0, np.minimum(u, 1.0), 1.0)


def gemm_efficiency(m, n, k, batch, e_max, k0, sms):
    """Fraction of the dense peak a GEMM of this shape reaches (no fixed time, no memory bound)."""
    k = np.asarray(k, dtype=float)
    return e_max * wave_utilisation(m, n, batch, sms) * k / (k + k0)


def gemm_time(m, n, k, *, batch=1.0, peak, e_max, k0, sms, fixed_s, mem_bw, in_bytes=2.0, out_bytes=2.0):
    """Seconds of one GEMM kernel (or `batch` of the same shape in one batched kernel)."""
    m, n, k = (np.asarray(x, dtype=float) for x in (m, n, k))
    flops = 2.0 * batch * m * n * k
    compute = flops / (peak * np.maximum(gemm_efficiency(m, n, k, batch, e_max, k0, sms), 1e-9))
    traffic = batch * (in_bytes * (m * k + k * n) + out_bytes * m * n) / mem_bw
    return fixed_s + np.maximum(compute, traffic)


def attention_efficiency(seq, e_inf, s0):
    """Fraction of the 16-bit peak a fused attention pass reaches at sequence length `seq`."""
    seq = np.asarray(seq, dtype=float)
    return e_inf * seq / (seq + s0)
