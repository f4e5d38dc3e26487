"""Statistics on raw samples: summaries, significance, confidence intervals.

Pure numeric code shared by measure/ (timing core, A/B), plan/ and report/.
Conventions (see ../shared/reference/measurement.md §6): the central value is the
median; dispersion is the IQR; a run is *noisy* when IQR/median > 10 % (the
torch.utils.benchmark threshold); A/B differences use Mann-Whitney U plus a
bootstrap CI on the ratio of medians.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

NOISY_REL_IQR = 0.10  # torch.utils.benchmark warns at IQR/median >= 0.10


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    mean: float
    min: float
    max: float
    q1: float
    q3: float
    iqr: float
    p95: float
    p99: float
    cv: float
    rel_iqr: float
    noisy: bool
    outliers: int  # modified z-score > 3.5 (Iglewicz-Hoaglin); kept in the raw data

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(samples) -> Summary:
    """Summary of raw samples (any unit); raises ValueError on an empty list."""
    x = np.asarray(list(samples), dtype=float)
    if x.size == 0:
        raise ValueError("no samples to summarise")
    q1, med, q3, p95, p99 = np.percentile(x, [25, 50, 75, 95, 99])
    mean = float(x.mean())
    std = float(x.std(ddof=1)) if x.size > 1 else 0.0
    iqr = float(q3 - q1)
    rel = iqr / med if med else math.inf
    mad = float(np.median(np.abs(x - med)))
    outliers = int(np.sum(0.6745 * np.abs(x - med) / mad > 3.5)) if mad > 0 else 0
    return Summary(
        n=int(x.size), median=float(med), mean=mean, min=float(x.min()), max=float(x.max()),
        q1=float(q1), q3=float(q3), iqr=iqr, p95=float(p95), p99=float(p99),
        cv=std / mean if mean else math.inf, rel_iqr=rel, noisy=bool(rel > NOISY_REL_IQR),
        outliers=outliers,
    )


def mann_whitney_p(a, b) -> float:
    """Two-sided Mann-Whitney U p-value (exact for small samples, per scipy)."""
    from scipy.stats import mannwhitneyu

    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size == 0 or b.size == 0:
        raise ValueError("both samples need at least one value")
    if np.all(a == a[0]) and np.all(b == b[0]) and a[0] == b[0]:
        return 1.0
    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


def ratio_of_medians_ci(a, b, *, n_boot: int = 4000, level: float = 0.95, seed: int = 0):
    """Ratio median(a)/median(b) and its percentile-bootstrap CI (resampling each arm)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    rng = np.random.default_rng(seed)
    ia = rng.integers(0, a.size, size=(n_boot, a.size))
    ib = rng.integers(0, b.size, size=(n_boot, b.size))
    ratios = np.median(a[ia], axis=1) / np.median(b[ib], axis=1)
    lo, hi = np.percentile(ratios, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(np.median(a) / np.median(b)), float(lo), float(hi)
