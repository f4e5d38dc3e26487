"""Statistics and verdict of a fabric A/B experiment: numbers in, a decision out (pure).

Input per arm: one sample per repetition, the median step time of that repetition's
synced DDP steps, with the arms interleaved A B A B ... (../shared/reference/measurement.md
§2.4 step 6) so drift and other load hit every arm alike. Definitions (§6, DESIGN.md
"Statistics"), with θ the decision threshold (default 0.05: 5 % of step time) and α the
significance level (default 0.01, §6: "Mann-Whitney U at p<0.01"):

- F, the fastest arm: the lowest median over its repetition samples.
- For every other arm X: r = median(X) / median(F) with a percentile-bootstrap 95 % CI
  [lo, hi] (each arm resampled; `stats.ratio_of_medians_ci`) and the two-sided
  Mann-Whitney U p-value (`stats.mann_whitney_p`).
- X is **materially slower** than F iff p < α' and lo > 1 + θ, where α' = α / (k - 1)
  (Bonferroni over the k - 1 comparisons with F; α' = α for two arms): the difference is
  significant *and* the whole CI lies above the threshold band. Anything else is a **tie**
  with F, for one or more reasons: the difference is below the threshold (r <= 1 + θ), it
  is not significant (p >= α'), or the CI reaches into the band (lo <= 1 + θ).
- The recommended arm is the cheapest arm that ties with F (F itself when every cheaper
  arm is materially slower). Verdict: `faster arm pays` when that is not the cheapest arm;
  `tie: the cheaper arm is enough` when the cheapest arm ties with F; `the cheaper arm is
  faster` when the cheapest arm is F and the others are materially slower.

With n repetitions per arm and no ties the smallest exact two-sided U p-value is
2 / C(2n, n): 0.0079 at n = 5, 0.0022 at n = 6, 0.00058 at n = 7. When it is not below α'
no outcome can be significant; the analysis says so (`underpowered`) rather than hide it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from raxlab.stats import mann_whitney_p, ratio_of_medians_ci, summarize

PAYS, TIE, CHEAPER_FASTER = "faster arm pays", "tie: the cheaper arm is enough", "the cheaper arm is faster"
SECONDS_PER_YEAR = 365.25 * 86400


@dataclass
class Comparison:
    """Arm `arm` against the fastest arm `versus`."""

    arm: str
    versus: str
    ratio: float  # median(arm) / median(versus), >= 1
    ci: tuple[float, float]
    p_value: float
    alpha: float  # the (Bonferroni-adjusted) level this comparison is judged at
    materially_slower: bool
    reasons: list[str]  # why it is a tie (empty when materially slower)

    def to_dict(self) -> dict:
        return {**asdict(self), "ci": list(self.ci), "difference": self.ratio - 1.0}


@dataclass
class Verdict:
    verdict: str
    recommended: str
    cheapest: str
    fastest: str
    cost_basis: str
    threshold: float
    alpha: float
    comparisons: list[Comparison]
    arms: dict[str, dict]  # name -> summary of its repetition samples
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {**{k: v for k, v in asdict(self).items() if k != "comparisons"},
                "comparisons": [c.to_dict() for c in self.comparisons]}


def min_p_value(n1: int, n2: int) -> float:
    """Smallest exact two-sided Mann-Whitney p-value for samples of n1 and n2 without ties."""
    return min(1.0, 2.0 / math.comb(n1 + n2, n1))


def compare(arm: str, samples, fastest: str, fastest_samples, *, threshold: float, alpha: float,
            seed: int = 0) -> Comparison:
    """One arm against the fastest: ratio, CI, p-value and whether it is materially slower."""
    ratio, lo, hi = ratio_of_medians_ci(samples, fastest_samples, seed=seed)
    p = mann_whitney_p(samples, fastest_samples)
    reasons = []
    if ratio <= 1 + threshold:
        reasons.append(f"difference {ratio - 1:+.1%} is below the {threshold:.0%} threshold")
    if p >= alpha:
        reasons.append(f"not significant (p = {p:.2g} >= {alpha:.2g})")
    if lo <= 1 + threshold and ratio > 1 + threshold:
        reasons.append(f"the 95 % CI [{lo:.3f}, {hi:.3f}] reaches into the ±{threshold:.0%} band")
    return Comparison(arm, fastest, ratio, (lo, hi), p, alpha, not reasons, reasons)


def decide(samples: dict[str, list[float]], cost_order: list[str], *, threshold: float = 0.05,
           alpha: float = 0.01, cost_basis: str = "order given") -> Verdict:
    """The verdict over >= 2 arms; `cost_order` lists the arm names cheapest first."""
    if len(samples) < 2 or any(len(v) < 2 for v in samples.values()):
        raise ValueError("an A/B verdict needs >= 2 arms with >= 2 repetitions each")
    if sorted(cost_order) != sorted(samples):
        raise ValueError(f"cost order {cost_order} does not name the arms {sorted(samples)}")
    summ = {name: summarize(v) for name, v in samples.items()}
    fastest = min(samples, key=lambda n: (summ[n].median, cost_order.index(n)))
    level = alpha / (len(samples) - 1)
    comps = [compare(n, samples[n], fastest, samples[fastest], threshold=threshold, alpha=level)
             for n in cost_order if n != fastest]
    slower = {c.arm for c in comps if c.materially_slower}
    recommended = next(n for n in cost_order if n not in slower)
    cheapest = cost_order[0]
    if recommended != cheapest:
        verdict = PAYS
    elif cheapest == fastest and slower:
        verdict = CHEAPER_FASTER
    else:
        verdict = TIE
    return Verdict(verdict, recommended, cheapest, fastest, cost_basis, threshold, alpha, comps,
                   {n: {**s.to_dict(), "samples": list(samples[n])} for n, s in summ.items()},
                   _warnings(samples, summ, level))


def _warnings(samples: dict[str, list[float]], summ: dict, level: float) -> list[str]:
    out = []
    ns = sorted(len(v) for v in samples.values())
    floor = min_p_value(ns[0], ns[1])
    if floor >= level:
        out.append(f"underpowered: with {ns[0]} repetitions the smallest possible p-value is {floor:.2g}, "
                   f"not below {level:.2g}; no difference can be significant (add --reps)")
    for name, s in summ.items():
        if s.noisy:
            out.append(f"arm {name} is noisy: IQR/median of its repetitions is {s.rel_iqr:.0%} (> 10 %)")
    return out


def cost_order(arms: list[dict]) -> tuple[list[str], str]:
    """Arm names cheapest first, and the basis used.

    Each dict has `name`, `price_usd` (or None), `rate_bps` (emulated link rate or None) and
    `tcp` (True for TCP transports, False for RDMA, None when unknown). The first basis that
    is known for every arm and tells them apart wins: catalogue/declared price; emulated link
    rate (a slower link is the cheaper one); transport class (TCP on plain Ethernet is cheaper
    than RDMA, which needs RDMA NICs and, for InfiniBand, its own switches); else the order
    given on the command line (first = cheapest).
    """
    names = [a["name"] for a in arms]
    for key, basis in (("price_usd", "price"), ("rate_bps", "link rate"), ("tcp", "transport (TCP < RDMA)")):
        vals = [a.get(key) for a in arms]
        if all(v is not None for v in vals) and len(set(vals)) == len(vals):
            rank = (lambda v: -int(v)) if key == "tcp" else (lambda v: v)
            return [n for _, n in sorted(zip((rank(v) for v in vals), names), key=lambda t: t[0])], basis
    return names, "order given (first = cheapest)"


def cost_per_unit(price_usd: float | None, units_per_s: float, horizon_years: float,
                  per: float = 1e6) -> float | None:
    """USD per `per` units of work: price amortised over the horizon at the measured rate,
    busy all the time (an upper bound on the work the hardware can do, so a lower bound on cost)."""
    if price_usd is None or units_per_s <= 0:
        return None
    return price_usd / (units_per_s * horizon_years * SECONDS_PER_YEAR) * per
