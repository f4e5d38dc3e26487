"""The one decision rule for ratios of times, on synthetic samples with known answers."""

import math

import numpy as np
import pytest

from raxlab import equivalence as eq


def pairs(ratio: float, cv: float, n: int, seed: int, drift: float = 0.0):
    """n pairs (x, y) with time(x)/time(y) = ratio, lognormal pair noise cv, and a common drift:
    the machine's speed changes by `drift` (relative) over the run, hitting both halves of a pair."""
    rng = np.random.default_rng(seed)
    base = 1.0 + drift * np.linspace(0, 1, n) + 0.3 * drift * np.sin(np.arange(n))
    y = base * np.exp(cv / math.sqrt(2) * rng.standard_normal(n))
    x = ratio * base * np.exp(cv / math.sqrt(2) * rng.standard_normal(n))
    return x, y


def test_classify_is_tost():
    assert eq.classify(1.06, 1.2) == eq.SLOWER
    assert eq.classify(0.8, 0.94) == eq.FASTER
    assert eq.classify(0.96, 1.04) == eq.EQUIVALENT
    assert eq.classify(0.9, 1.1) == eq.INCONCLUSIVE  # not significant is not equal
    assert eq.classify(1.01, 1.08) == eq.INCONCLUSIVE  # significant, but not shown beyond the threshold


def test_identical_arms_are_a_proven_tie():
    x, y = pairs(1.0, 0.02, 12, seed=1)
    iv = eq.paired(x, y)
    assert eq.classify(iv.lo, iv.hi) == eq.EQUIVALENT
    assert 0.97 < iv.lo < 1.0 < iv.hi < 1.03 and iv.level == eq.ALPHA


def test_eight_percent_shift_small_noise_pays_large_noise_is_inconclusive():
    x, y = pairs(1.08, 0.01, 10, seed=2)
    iv = eq.paired(x, y)
    assert eq.classify(iv.lo, iv.hi) == eq.SLOWER and iv.sign == {"slower": 10, "faster": 0, "p": pytest.approx(2 / 1024)}
    x, y = pairs(1.08, 0.25, 10, seed=3)
    iv = eq.paired(x, y)
    assert eq.classify(iv.lo, iv.hi) == eq.INCONCLUSIVE
    more = eq.more_pairs(iv)
    assert more is not None and more > 10  # at 25 % pair noise, a 3 % margin over the threshold needs many pairs


def test_pairing_cancels_drift_that_swamps_independent_samples():
    x, y = pairs(1.0, 0.02, 12, seed=4, drift=0.6)  # the machine slows by 60 % during the run
    paired, unpaired = eq.paired(x, y), eq.independent(x, y)
    assert eq.classify(paired.lo, paired.hi) == eq.EQUIVALENT
    assert eq.classify(unpaired.lo, unpaired.hi) == eq.INCONCLUSIVE
    assert paired.hi - paired.lo < (unpaired.hi - unpaired.lo) / 4


def test_more_pairs_shrinks_with_distance_and_is_none_on_the_threshold():
    iv = eq.paired(*pairs(1.0, 0.10, 6, seed=5))
    near = eq.paired(*pairs(1.045, 0.10, 6, seed=5))
    assert eq.more_pairs(iv) < eq.more_pairs(near)
    on = eq.Interval(1.05, 0.9, 1.2, 0.05, 6, "paired", math.log(1.05), 0.1, 0.1)
    assert eq.more_pairs(on) is None


def test_load_adjustment_widens_the_noise_and_the_far_bound():
    lo, hi = eq.load_adjusted(0.98, 1.03, 2.0)
    m, h = math.log(math.sqrt(0.98 * 1.03)), math.log(1.03 / 0.98) / 2
    assert (lo, hi) == pytest.approx((math.exp(m - 2 * h), math.exp(2 * (m + h))))  # ~ (0.956, 1.061)
    lo, hi = eq.load_adjusted(1.10, 1.30, 2.0)
    assert 1.0 < lo < 1.05 and hi == pytest.approx(1.30 ** 2)  # under load a 10-30 % gap needs more pairs
    assert eq.load_adjusted(0.80, 0.95, 1.5)[0] == pytest.approx(0.80 ** 1.5)  # mirrored below 1
    assert eq.load_adjusted(0.98, 1.03, 0.5) == pytest.approx((0.98, 1.03))


def test_spending_levels_sum_to_alpha_and_keep_the_type_one_error():
    sp = eq.Spending(0.05, 20)
    looks = (4, 6, 8, 11, 15, 20)
    lv = sp.levels(looks)
    assert lv[0] == pytest.approx(sp.spent(0.2)) and all(0 < v < 0.05 for v in lv)
    assert sp.spent(1.0) == pytest.approx(0.05) and eq.Spending(0.05, 20, "obrien-fleming").spent(1.0) == pytest.approx(0.05)
    # a z statistic under the null, looked at with these levels, crosses with probability alpha
    from scipy.stats import norm

    rng = np.random.default_rng(7)
    z = np.cumsum(rng.standard_normal((40_000, 20)), axis=1)[:, np.array(looks) - 1] / np.sqrt(looks)
    rate = np.mean((z > norm.ppf(1 - np.array(lv))).any(axis=1))
    assert 0.04 < rate < 0.06
    assert sp.levels(looks[:3]) == lv[:3]  # an earlier look does not depend on later ones
    assert sp.levels((4, 9), final=True)[-1] > sp.levels((4, 9))[-1]  # the last look spends what is left
    with pytest.raises(ValueError):
        eq.Spending(0.05, 20, "bayes").spent(0.5)


def test_bad_input():
    with pytest.raises(ValueError):
        eq.paired([1.0], [1.0])
    with pytest.raises(ValueError):
        eq.paired([1.0, -1.0], [1.0, 1.0])
    with pytest.raises(ValueError):
        eq.independent([1.0], [1.0, 2.0])


def test_correlated_neighbouring_pairs_widen_the_interval():
    """A/A on a busy machine: another job's cycle favours one arm for ~6 rounds, then a new state.
    Counted as independent pairs, the interval misses the true ratio 1 far more often than it should."""
    rng = np.random.default_rng(8)
    iid = rng.standard_normal(40)
    assert eq.long_run_sd(iid) == pytest.approx(iid.std(ddof=1), rel=0.25)
    from scipy.stats import t

    crit, miss_naive, miss_hac, runs = t.ppf(0.95, 39), 0, 0, 1000
    for _ in range(runs):
        d = np.repeat(0.05 * rng.standard_normal(7), 6)[:40] + 0.02 * rng.standard_normal(40)
        se_naive, se_hac = d.std(ddof=1) / np.sqrt(40), eq.long_run_sd(d) / np.sqrt(40)
        miss_naive += abs(d.mean()) > crit * se_naive
        miss_hac += abs(d.mean()) > crit * se_hac
    assert miss_naive / runs > 0.25  # a nominal 10 % two-sided miss rate
    assert miss_hac / runs < 0.6 * miss_naive / runs
