"""Statistics and verdict of a fabric A/B experiment: paired repetitions in, a decision out (pure).

Input per arm: one sample per round, the median step time of that arm's repetition in
the round. Rounds run the arms in alternating order (A B, B A, A B, ...), so the samples
of one round form a pair (a tuple for k arms) that shares the machine's state; linear
drift between the two halves of a pair cancels over two rounds. The decision rule is
`raxlab.equivalence` (TOST on the paired interval of the ratio, one rule set with `rax
runs compare`), with θ the threshold (default 0.05: 5 % of step time) and α the
one-sided level of each test (default 0.05, a 90 % interval):

- F, the fastest arm: the lowest geometric mean over the rounds.
- For every other arm X: the paired interval of r = time(X)/time(F) at the look's
  nominal level (alpha spending over looks, Bonferroni over the k - 1 comparisons),
  widened by the load stretch when other work slowed the machine
  (`equivalence.load_adjusted`), then classified: materially slower (lo > 1 + θ),
  equivalent (inside ±θ: a proven tie) or inconclusive.
- Any inconclusive comparison makes the verdict **inconclusive** (an undecided cheaper arm
  might be enough, an undecided dearer one might be materially faster; more repetitions
  would tell). Otherwise the recommended arm is the cheapest that is F or equivalent to F.
- Verdict: `faster arm pays` when the recommended arm is not the cheapest; `tie: the
  cheaper arm is enough` when the cheapest arm is equivalent to F; `the cheaper arm is
  faster` when the cheapest is F and every other arm is materially slower.

`Comparison.to_dict()` is the documented A/B result other layers read (plan/, report/):
ratio, ci, ci_level, decision, noise_cv, n_pairs, more_pairs, load_stretch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from raxlab import equivalence as eq
from raxlab.stats import summarize

PAYS, TIE, CHEAPER_FASTER = "faster arm pays", "tie: the cheaper arm is enough", "the cheaper arm is faster"
INCONCLUSIVE = "inconclusive: more repetitions needed"
CODES = {PAYS: "pays", TIE: "tie", CHEAPER_FASTER: "cheaper-faster", INCONCLUSIVE: "inconclusive"}
SECONDS_PER_YEAR = 365.25 * 86400


@dataclass
class Comparison:
    """Arm `arm` against the fastest arm `versus`, over their paired rounds."""

    arm: str
    versus: str
    ratio: float  # geometric mean of time(arm)/time(versus) over the pairs, >= 1 for the chosen fastest
    ci: tuple[float, float]  # the interval the decision used (load-adjusted when stretch > 1)
    ci_raw: tuple[float, float]  # the paired interval before the load adjustment
    ci_level: float  # two-sided coverage of ci: 1 - 2 x nominal level of this look
    decision: str  # equivalence.SLOWER | EQUIVALENT | INCONCLUSIVE | FASTER
    n_pairs: int
    noise_cv: float  # coefficient of variation of the pair ratios
    sign: dict  # pairs where arm was slower / faster, two-sided sign-test p
    p_value: float  # two-sided paired t-test of ratio 1 (shown; the decision is the interval's)
    more_pairs: int | None  # inconclusive: pairs that would likely settle it at this noise
    load_stretch: float
    reasons: list[str] = field(default_factory=list)

    @property
    def materially_slower(self) -> bool:
        return self.decision == eq.SLOWER

    def to_dict(self) -> dict:
        return {**asdict(self), "ci": list(self.ci), "ci_raw": list(self.ci_raw), "difference": self.ratio - 1.0,
                "materially_slower": self.materially_slower, "tie": self.decision == eq.EQUIVALENT}


@dataclass
class Verdict:
    verdict: str
    decision: str  # CODES[verdict]: pays | tie | cheaper-faster | inconclusive
    recommended: str | None  # None while inconclusive
    leaning: str  # the arm the point estimates favour (the recommendation if it were decided)
    cheapest: str
    fastest: str
    cost_basis: str
    threshold: float
    alpha: float
    level: float  # nominal one-sided level of this look, per comparison
    comparisons: list[Comparison]
    arms: dict[str, dict]  # name -> summary of its per-round samples
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {**{k: v for k, v in asdict(self).items() if k != "comparisons"},
                "comparisons": [c.to_dict() for c in self.comparisons]}


def _t_p(iv: eq.Interval) -> float:
    from scipy.stats import t

    if iv.sd_log == 0:
        return 1.0 if iv.mean_log == 0 else 0.0
    return float(2 * t.sf(abs(iv.mean_log) / (iv.sd_log / math.sqrt(iv.n)), iv.n - 1))


def compare(arm: str, samples, fastest: str, fastest_samples, *, threshold: float, level: float,
            stretch: float = 1.0) -> Comparison:
    """One arm against the fastest over paired rounds, at the nominal one-sided `level`."""
    iv = eq.paired(samples, fastest_samples, level)
    lo, hi = eq.load_adjusted(iv.lo, iv.hi, stretch)
    decision = eq.classify(lo, hi, threshold)
    more = eq.more_pairs(iv, threshold, level) if decision == eq.INCONCLUSIVE else None
    cmp = Comparison(arm, fastest, iv.ratio, (lo, hi), (iv.lo, iv.hi), 1 - 2 * level, decision, iv.n,
                     iv.noise_cv, iv.sign, _t_p(iv), more, stretch)
    cmp.reasons = _reasons(cmp, threshold)
    return cmp


def _reasons(c: Comparison, threshold: float) -> list[str]:
    lo, hi = c.ci
    band = f"[{1 - threshold:.3g}, {1 + threshold:.3g}]"
    ci = f"the {c.ci_level:.3g} interval [{lo:.3f}, {hi:.3f}]"
    out = {eq.SLOWER: [f"{ci} lies above {1 + threshold:.3g}: materially slower"],
           eq.EQUIVALENT: [f"{ci} lies inside {band}: equivalent (a proven tie)"],
           eq.FASTER: [f"{ci} lies below {1 - threshold:.3g}: materially faster"]}.get(c.decision)
    if out is None:
        more = (f"about {c.more_pairs} more pairs would likely settle it at the observed noise "
                f"(pair ratios vary by {c.noise_cv:.1%})") if c.more_pairs else \
            "the estimate sits on the threshold: more pairs are unlikely to settle it"
        out = [f"{ci} overlaps the edge of {band}: inconclusive; {more}"]
    if c.load_stretch > 1.0001:
        out.append(f"interval widened x{c.load_stretch:.2f} for the load of other work "
                   f"(raw [{c.ci_raw[0]:.3f}, {c.ci_raw[1]:.3f}])")
    return out


def decide(samples: dict[str, list[float]], cost_order: list[str], *, threshold: float = eq.THRESHOLD,
           alpha: float = eq.ALPHA, level: float | None = None, stretch: float = 1.0,
           cost_basis: str = "order given") -> Verdict:
    """The verdict over >= 2 arms with per-round samples; `cost_order` lists the arms cheapest first.
    `level` is this look's nominal one-sided level per comparison (default: alpha / (k - 1))."""
    n = {len(v) for v in samples.values()}
    if len(samples) < 2 or len(n) != 1 or n.pop() < 2:
        raise ValueError("an A/B verdict needs >= 2 arms with the same number (>= 2) of rounds")
    if sorted(cost_order) != sorted(samples):
        raise ValueError(f"cost order {cost_order} does not name the arms {sorted(samples)}")
    k = len(samples)
    level = alpha / (k - 1) if level is None else level
    gmean = {a: math.exp(sum(math.log(x) for x in v) / len(v)) for a, v in samples.items()}
    fastest = min(samples, key=lambda a: (gmean[a], cost_order.index(a)))
    comps = {a: compare(a, samples[a], fastest, samples[fastest], threshold=threshold, level=level, stretch=stretch)
             for a in cost_order if a != fastest}
    verdict, recommended = _walk(cost_order, fastest, comps)
    leaning = recommended or next(a for a in cost_order if a == fastest or not comps[a].ratio > 1 + threshold)
    summ = {a: {**summarize(v).to_dict(), "samples": list(v), "geomean": gmean[a]} for a, v in samples.items()}
    return Verdict(verdict, CODES[verdict], recommended, leaning, cost_order[0], fastest, cost_basis, threshold,
                   alpha, level, list(comps.values()), summ, _warnings(comps.values(), threshold))


def _walk(cost_order: list[str], fastest: str, comps: dict[str, Comparison]) -> tuple[str, str | None]:
    """Any undecided comparison leaves the verdict open: an undecided cheaper arm might be enough,
    an undecided dearer one might be materially faster. Else the cheapest arm equal to the fastest."""
    if any(c.decision == eq.INCONCLUSIVE for c in comps.values()):
        return INCONCLUSIVE, None
    arm = next(a for a in cost_order if a == fastest or comps[a].decision == eq.EQUIVALENT)
    if arm != cost_order[0]:
        return PAYS, arm
    if arm == fastest and all(c.materially_slower for c in comps.values()):
        return CHEAPER_FASTER, arm
    return TIE, arm


def _warnings(comps, threshold: float) -> list[str]:
    out = []
    for c in comps:
        if c.noise_cv > threshold:
            out.append(f"{c.arm} vs {c.versus}: the pair ratios vary by {c.noise_cv:.0%} (more than the "
                       f"{threshold:.0%} threshold): the machine's noise, not the fabric, limits this A/B")
    return out


def cost_order(arms: list[dict]) -> tuple[list[str], str]:
    """Arm names cheapest first, and the basis used.

    Each dict has `name`, `price_usd` (or None), `rate_bps` (emulated capacity: link rate x ranks, or
    a topology's summed link rates; or None) and
    `tcp` (True for TCP transports, False for RDMA, None when unknown). The first basis that
    is known for every arm and tells them apart wins: catalogue/declared price; emulated
    capacity (a slower link, or a tapered leaf, is the cheaper one); transport class (TCP on plain Ethernet is cheaper
    than RDMA, which needs RDMA NICs and, for InfiniBand, its own switches); else the order
    given on the command line (first = cheapest).
    """
    names = [a["name"] for a in arms]
    for key, basis in (("price_usd", "price"), ("rate_bps", "emulated capacity"), ("tcp", "transport (TCP < RDMA)")):
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
