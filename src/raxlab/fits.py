"""α-β (Hockney) fit of measured collective times; pure functions on result rows.

Math, below every layer that uses it: `measure/comm` fits what it measured, `predict/commfit` fits
held-out sizes and imported nccl-tests logs (DESIGN.md: shared math lives below the layers using it).

Model per collective x transport x rank count x dtype (Hockney; Thakur, Rabenseifner
& Gropp 2005; ../shared/reference/measurement.md §7.1):

    t(S) = α + S · factor / β

with S the nccl-tests size, factor the busbw factor and β the bus bandwidth, so
S·factor/β is the time the bottleneck link needs for the bytes each rank must move
(ring all-reduce: 2((p-1)/p)·S·(1/β)). α is the whole collective's small-message
latency (for a ring all-reduce it stands for 2(p-1) per-hop latencies).

- β = peak busbw over the large sizes (those >= 1/8 of the largest measured), not a
  mean over sizes (nccl-tests' "Avg bus bandwidth" depends on the -b/-e range).
- α = intercept of a line t = α + k·S over the latency-dominated sizes: those where
  the bandwidth term S·factor/β is at most half the measured time. The line is fitted
  by Theil-Sen (robust: one disturbed size does not move it). With one such size, or
  an intercept <= 0, α is the mean residual t - S·factor/β; with none (a sweep of
  large messages only) α is None. The note says which.
- r2 = coefficient of determination of log t against the model over all sizes (log,
  because t spans decades and a linear R² would only see the largest sizes).
- n_half = the size at which busbw first reaches half of β, interpolated in log size
  between measured points (None if outside the sweep); n_half_model = α·β/factor, where
  the model's busbw is β/2 (Hockney's n_1/2).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

# busbw = algbw x factor(n) (nccl-tests doc/PERFORMANCE.md): S is the whole buffer for the gathers
# and scatters, the per-rank buffer for all-reduce.
BUSBW_FACTORS = {
    "all_reduce": lambda n: 2 * (n - 1) / n,
    "reduce_scatter": lambda n: (n - 1) / n,
    "all_gather": lambda n: (n - 1) / n,
    "all_to_all": lambda n: (n - 1) / n,
    "broadcast": lambda n: 1.0,
    "reduce": lambda n: 1.0,
    "send_recv": lambda n: 1.0,
}


def busbw_factor(collective: str, ranks: int) -> float:
    return float(BUSBW_FACTORS[collective](ranks))


LARGE_FRACTION = 1 / 8  # "large" sizes: >= 1/8 of the largest size measured
LATENCY_SHARE = 0.5  # latency-dominated: the bandwidth term is <= half the time
GROUP_KEYS = ("collective", "transport", "ranks", "dtype")


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Intercept and slope of y = a + b·x by Theil-Sen (median of pairwise slopes), so
    one slow size (a scheduler hiccup on a shared host) does not drag the intercept."""
    if np.ptp(x) == 0:
        return float(np.median(y)), 0.0
    from scipy.stats import theilslopes

    b, a, _, _ = theilslopes(y, x)
    return float(a), float(b)


def _r2(y: np.ndarray, yhat: np.ndarray) -> float | None:
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    if y.size < 3 or ss_tot == 0:
        return None
    return 1.0 - float(np.sum((y - yhat) ** 2)) / ss_tot


def _n_half(sizes: np.ndarray, busbw: np.ndarray, peak: float) -> float | None:
    half = peak / 2
    above = np.nonzero(busbw >= half)[0]
    if above.size == 0 or above[0] == 0:
        return None  # never reached, or already reached at the smallest size
    i = int(above[0])
    x0, x1, y0, y1 = math.log(sizes[i - 1]), math.log(sizes[i]), busbw[i - 1], busbw[i]
    frac = (half - y0) / (y1 - y0) if y1 != y0 else 1.0
    return float(math.exp(x0 + frac * (x1 - x0)))


def _alpha(s: np.ndarray, t: np.ndarray, factor: float, beta: float) -> tuple[float | None, str]:
    """α (s) from the latency-dominated sizes, and a note when it is not a fitted intercept."""
    if s.size == 0:
        return None, "no latency-dominated size in the sweep; alpha needs smaller sizes (-b)"
    if s.size >= 2:
        alpha, _ = _line(s, t)
        if alpha > 0:
            return alpha, ""
    # one point has no line, and noise can push an intercept below 0: use the
    # measured latency residual t - S·factor/β instead, and say so
    return (float(np.mean(t - s * factor / beta)),
            "alpha is the mean latency residual t - S*factor/beta (too few or too noisy small sizes)")


def fit_alpha_beta(sizes, times_s, factor: float) -> dict:
    """Fit one curve: sizes in bytes, times in seconds (medians), busbw factor."""
    s = np.asarray(sizes, dtype=float)
    t = np.asarray(times_s, dtype=float)
    if factor <= 0 or s.size == 0:
        return {"alpha_us": None, "beta_GBps": None, "r2": None, "n_half_bytes": None,
                "n_half_model_bytes": None, "n_points": int(s.size), "busbw_factor": factor,
                "note": "no bus traffic (1 rank): nothing to fit"}
    order = np.argsort(s)
    s, t = s[order], t[order]
    busbw = s * factor / t  # B/s
    large = s >= s.max() * LARGE_FRACTION
    ipeak = int(np.argmax(np.where(large, busbw, -np.inf)))
    beta = float(busbw[ipeak])
    small = s * factor / beta <= LATENCY_SHARE * t
    alpha, note = _alpha(s[small], t[small], factor, beta)
    model = (alpha or 0.0) + s * factor / beta
    return {
        "alpha_us": None if alpha is None else alpha * 1e6,
        "beta_GBps": beta / 1e9,
        "r2": _r2(np.log(t), np.log(model)),
        "n_half_bytes": _n_half(s, busbw, beta),
        "n_half_model_bytes": None if alpha is None else alpha * beta / factor,
        "peak_size_bytes": int(s[ipeak]),
        "small_sizes": [int(v) for v in s[small]],
        "large_sizes": [int(v) for v in s[large]],
        "n_points": int(s.size),
        "busbw_factor": factor,
        "note": note,
    }


def fit_rows(rows: list[dict]) -> list[dict]:
    """One fit per collective x transport x ranks x dtype over the correct rows."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        if row.get("correct") is not False and row.get("time_us"):
            groups[tuple(row[k] for k in GROUP_KEYS)].append(row)
    fits = []
    for key, group in groups.items():
        fit = fit_alpha_beta([r["size_bytes"] for r in group], [r["time_us"] / 1e6 for r in group],
                             group[0]["busbw_factor"])
        fits.append({**dict(zip(GROUP_KEYS, key)), **fit})
    return fits
