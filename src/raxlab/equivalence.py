"""Is one time materially different from another, the same within a threshold, or not yet known?

The one decision rule of RA:X for ratios of measured times, used by `rax abtest` (paired,
interleaved repetitions) and `rax runs compare` (two independent runs). For a ratio
r = time(X) / time(R), a threshold δ (default 5 %) and the (1 - 2α) confidence interval
[lo, hi] of r, Schuirmann's two one-sided tests (TOST, 1987; DESIGN.md "Second wave")
decide at level α each:

    SLOWER        lo > 1 + δ                    X is materially slower than R
    FASTER        hi < 1 - δ                    X is materially faster than R
    EQUIVALENT    1 - δ <= lo and hi <= 1 + δ   the same within ±δ: a proven tie
    INCONCLUSIVE  anything else                 with how many more pairs would likely settle it

"Not significant" is therefore never "equal": a wide interval around 1 is INCONCLUSIVE.

Intervals are on the log scale, where a ratio is a difference and the noise of timings
is closer to symmetric:
- `paired`: the repetitions ran in rounds (A B or B A, each block of two rounds in both orders)
  so each pair shares the machine's state; d_i = ln(x_i / y_i) and a Student t interval on
  mean(d) (the geometric mean of the pair ratios) with the Newey-West long-run sd, so pairs
  that are correlated with their neighbours widen it. Load that drifts over minutes moves
  both halves of a pair and cancels in d_i.
- `independent`: Welch's t interval on the difference of mean logs (two runs, no pairing).

Sequential looks (`Spending`): a run may look at its pairs several times and stop at the
first decision. Each look's nominal level comes from an alpha-spending function (Lan and
DeMets 1983) so that the chance of a false SLOWER, FASTER or EQUIVALENT claim over all
looks stays at α. The default is the O'Brien-Fleming-type function 2 - 2Φ(z_{1-α/2}/√t),
which spends almost nothing at the first looks, where a few neighbouring pairs of a busy
machine can agree by accident, and keeps nearly all of α for the last; the Pocock-type
α·ln(1 + (e - 1)·t) spends evenly and stops a clear difference earlier. The boundaries are exact
for the joint distribution of the looks (a Brownian motion observed at t_1 < t_2 < ...,
correlation √(t_i/t_j)), computed by simulation with a fixed seed, so they are
deterministic; a nominal level is converted to the t quantile with the look's degrees of
freedom (the usual group-sequential approximation for an estimated variance).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import numpy as np

SLOWER, FASTER, EQUIVALENT, INCONCLUSIVE = "slower", "faster", "equivalent", "inconclusive"
THRESHOLD = 0.05  # 5 % of the step time: below it a faster fabric is not worth buying (DESIGN.md)
ALPHA = 0.05  # one-sided level of each TOST test, i.e. a 90 % interval (Schuirmann 1987)
POWER = 0.8  # "would likely settle": the pairs that give an 80 % chance at the observed noise
MC_PATHS, MC_SEED = 50_000, 20_241  # simulation of the look boundaries (MC error ~5 % of a 0.01 level)
MC_MIN_HITS = 100  # fewer simulated crossings than this: use the (stricter) single-look bound


@dataclass(frozen=True)
class Interval:
    """A ratio with its (1 - 2·level) interval, and what it was computed from."""

    ratio: float
    lo: float
    hi: float
    level: float  # one-sided nominal level of each bound
    n: int  # pairs (paired) or the smaller sample (independent)
    method: str
    mean_log: float
    sd_log: float  # sd of the log pair ratios (paired) or the standard error x sqrt(n) (independent)
    noise_cv: float  # coefficient of variation of the pair ratios (paired) / of the samples (independent)
    sign: dict = field(default_factory=dict)  # paired: pairs slower, faster, and the two-sided sign-test p

    def to_dict(self) -> dict:
        return asdict(self)


def _exp(x: float) -> float:
    """exp that saturates: an early look at a tiny level on few pairs can ask for exp(1000)."""
    return math.exp(max(-700.0, min(700.0, x)))


def _t(level: float, df: float) -> float:
    from scipy.stats import t

    return float(t.ppf(1.0 - level, df))


def paired(x, y, level: float = ALPHA) -> Interval:
    """Interval of the ratio x/y from pairs (x_i, y_i) of positive times."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.shape != y.shape or x.size < 2 or np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("paired() needs >= 2 pairs of positive times")
    d = np.log(x / y)
    n, mean = d.size, float(d.mean())
    sd = long_run_sd(d)
    half = _t(level, n - 1) * sd / math.sqrt(n)
    ratios = np.exp(d)
    return Interval(math.exp(mean), _exp(mean - half), _exp(mean + half), level, n, "paired log-ratio t",
                    mean, sd, float(ratios.std(ddof=1) / ratios.mean()), _sign(d))


def long_run_sd(d: np.ndarray) -> float:
    """The sd of a series of pair differences for the interval of its mean: the Newey-West (1987)
    long-run sd with a Bartlett kernel over lags 1..L, L = floor(√n) (wider than the n^(1/3) rule:
    a load that favours one arm lasts for several rounds), never below the plain sd. Neighbouring
    pairs of a busy machine are correlated; counting them as independent makes the interval too
    narrow (an A/A of two identical fabrics here read 1.36 over 4 pairs, and 35 of 47 pairs one way)."""
    n = d.size
    sd = float(d.std(ddof=1))
    lags = int(math.isqrt(n))
    if n < 4 or lags < 1 or sd == 0:
        return sd
    e = d - d.mean()
    var = float(e @ e) / n
    for k in range(1, lags + 1):
        var += 2 * (1 - k / (lags + 1)) * float(e[k:] @ e[:-k]) / n
    return max(sd, math.sqrt(max(var, 0.0) * n / (n - 1)))


def _sign(d: np.ndarray) -> dict:
    from scipy.stats import binomtest

    up, down = int(np.sum(d > 0)), int(np.sum(d < 0))
    p = float(binomtest(up, up + down).pvalue) if up + down else 1.0
    return {"slower": up, "faster": down, "p": p}


def independent(x, y, level: float = ALPHA) -> Interval:
    """Interval of the ratio of geometric means x/y from two independent samples (Welch on logs)."""
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    if lx.size < 2 or ly.size < 2 or not (np.all(np.isfinite(lx)) and np.all(np.isfinite(ly))):
        raise ValueError("independent() needs >= 2 positive times per sample")
    vx, vy = lx.var(ddof=1) / lx.size, ly.var(ddof=1) / ly.size
    mean, se = float(lx.mean() - ly.mean()), math.sqrt(vx + vy)
    df = (vx + vy) ** 2 / (vx ** 2 / (lx.size - 1) + vy ** 2 / (ly.size - 1)) if se > 0 else 1.0
    half = _t(level, df) * se
    n = min(lx.size, ly.size)
    cv = float(max(np.std(np.exp(lx), ddof=1) / np.exp(lx).mean(), np.std(np.exp(ly), ddof=1) / np.exp(ly).mean()))
    return Interval(math.exp(mean), _exp(mean - half), _exp(mean + half), level, n, "Welch log t",
                    mean, se * math.sqrt(n), cv)


def classify(lo: float, hi: float, threshold: float = THRESHOLD) -> str:
    """The TOST decision for an interval [lo, hi] of a ratio (module docstring)."""
    if lo > 1 + threshold:
        return SLOWER
    if hi < 1 - threshold:
        return FASTER
    if lo >= 1 - threshold and hi <= 1 + threshold:
        return EQUIVALENT
    return INCONCLUSIVE


def load_adjusted(lo: float, hi: float, stretch: float) -> tuple[float, float]:
    """[lo, hi] widened for a machine that other work slowed by `stretch` s >= 1 (busyness.stretch).

    On the log scale, with centre m and half-width h, for m >= 0 (mirrored for m < 0):
    [m - s·h, s·(m + h)]. The half-width grows by s: on a shared machine neighbouring rounds
    share load that favours one arm (seen here: two identical fabrics 5-10 % apart for tens of
    seconds), so a difference needs s times the evidence; and the far bound grows by s as a
    whole: on a quiet machine the compute part of the step is s times shorter, so the network's
    share of the ratio could be s times larger. s = 1 leaves the interval as it is."""
    s = max(1.0, stretch)
    m, h = (math.log(lo) + math.log(hi)) / 2, (math.log(hi) - math.log(lo)) / 2
    if m >= 0:
        return _exp(m - s * h), _exp(s * (m + h))
    return _exp(s * (m - h)), _exp(m + s * h)


def more_pairs(iv: Interval, threshold: float = THRESHOLD, alpha: float = ALPHA, power: float = POWER) -> int | None:
    """Extra pairs that would likely (`power`) settle an inconclusive interval at the observed mean
    and noise; None when the estimate sits on a threshold (no number of pairs is likely to)."""
    from scipy.stats import norm

    up, down, m = math.log1p(threshold), math.log1p(-threshold), iv.mean_log
    dist = m - up if m > up else down - m if m < down else min(up - m, m - down)
    if dist <= 1e-3 * threshold:
        return None
    total = math.ceil(((norm.ppf(1 - alpha) + norm.ppf(power)) * iv.sd_log / dist) ** 2)
    return max(1, total - iv.n)


# -- sequential looks ---------------------------------------------------------------------
@dataclass(frozen=True)
class Spending:
    """Alpha spending over looks at n_1 < n_2 < ... pairs of at most `n_max` pairs."""

    alpha: float = ALPHA
    n_max: int = 40
    kind: str = "obrien-fleming"  # or "pocock"

    def spent(self, t: float) -> float:
        from scipy.stats import norm

        t = min(max(t, 0.0), 1.0)
        if t == 0.0:
            return 0.0
        if self.kind == "obrien-fleming":
            return float(2 - 2 * norm.cdf(norm.ppf(1 - self.alpha / 2) / math.sqrt(t)))
        if self.kind == "pocock":
            return self.alpha * math.log(1 + (math.e - 1) * t)
        raise ValueError(f"unknown spending function {self.kind!r}; known: pocock, obrien-fleming")

    def levels(self, looks: tuple[int, ...], final: bool = False) -> tuple[float, ...]:
        """Nominal one-sided level of each look; `final` spends what is left at the last one."""
        ts = tuple(min(n, self.n_max) / self.n_max for n in looks)
        steps = [self.spent(t) - self.spent(p) for t, p in zip(ts, (0.0,) + ts[:-1])]
        if final:
            steps[-1] = self.alpha - self.spent(ts[-2]) if len(ts) > 1 else self.alpha
        return _nominal(ts, tuple(max(s, 1e-12) for s in steps))

    def to_dict(self) -> dict:
        return {"alpha": self.alpha, "n_max": self.n_max, "kind": self.kind,
                "function": "alpha*ln(1+(e-1)t)" if self.kind == "pocock" else "2-2*Phi(z_{1-alpha/2}/sqrt(t))"}


@lru_cache(maxsize=256)
def _nominal(ts: tuple[float, ...], steps: tuple[float, ...]) -> tuple[float, ...]:
    """Per-look nominal levels whose joint crossing probabilities are `steps` (simulated)."""
    from scipy.stats import norm

    dt = np.diff((0.0,) + ts)
    if np.any(dt <= 0):
        raise ValueError(f"looks must grow: information fractions {ts}")
    # one generator per look: the paths up to look j do not depend on how many looks follow
    steps_w = np.column_stack([np.random.default_rng((MC_SEED, j)).standard_normal(MC_PATHS) for j in range(len(ts))])
    z = np.cumsum(steps_w * np.sqrt(dt), axis=1) / np.sqrt(ts)
    alive, out = np.ones(MC_PATHS, bool), []
    for j, step in enumerate(steps):
        k = int(round(step * MC_PATHS))
        if j == 0 or k < MC_MIN_HITS:  # exact at the first look; elsewhere too rare to simulate:
            c = float(norm.ppf(1 - step))  # the single-look bound, which can only be stricter
        else:
            live = z[alive, j]
            c = float(np.partition(live, live.size - k)[live.size - k]) if k <= live.size else -math.inf
        out.append(float(1 - norm.cdf(c)))
        alive &= z[:, j] <= c
    return tuple(out)
