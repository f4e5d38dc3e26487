"""The A/B verdict on synthetic repetition samples with known answers."""

import numpy as np
import pytest

from raxlab.measure.ab_stats import (CHEAPER_FASTER, PAYS, TIE, compare, cost_order, cost_per_unit, decide,
                                     min_p_value)


def reps(median: float, rel_noise: float, n: int = 7, seed: int = 1) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(median * (1 + rel_noise * rng.standard_normal(n)))


def test_identical_arms_are_a_tie():
    same = reps(1.0, 0.02)
    v = decide({"cheap": same, "dear": list(same)}, ["cheap", "dear"])
    assert v.verdict == TIE and v.recommended == "cheap"
    c = v.comparisons[0]
    assert c.ratio == 1.0 and c.p_value == pytest.approx(1.0) and not c.materially_slower


def test_twenty_percent_shift_with_low_noise_is_significant_and_the_faster_arm_pays():
    v = decide({"slow": reps(1.2, 0.01, seed=2), "fast": reps(1.0, 0.01, seed=3)}, ["slow", "fast"])
    c = v.comparisons[0]
    assert v.verdict == PAYS and v.recommended == "fast" and v.fastest == "fast"
    assert c.arm == "slow" and c.materially_slower and c.reasons == []
    assert c.p_value < 0.01 and 1.15 < c.ci[0] <= c.ratio <= c.ci[1] < 1.25


def test_two_percent_shift_is_a_tie_below_the_threshold_even_when_significant():
    v = decide({"slow": reps(1.02, 0.002, seed=4), "fast": reps(1.0, 0.002, seed=5)}, ["slow", "fast"])
    c = v.comparisons[0]
    assert v.verdict == TIE and v.recommended == "slow"
    assert c.p_value < 0.01  # a real difference, just not one worth paying for
    assert any("below the 5% threshold" in r for r in c.reasons)


def test_large_but_noisy_difference_whose_ci_reaches_the_band_is_a_tie():
    slow = [1.0, 1.02, 1.3, 1.35, 1.4, 1.45, 1.5]
    fast = [0.98, 0.99, 1.0, 1.0, 1.01, 1.02, 1.03]
    c = compare("slow", slow, "fast", fast, threshold=0.05, alpha=0.01)
    assert c.ratio > 1.3 and c.ci[0] <= 1.05 and not c.materially_slower
    assert any("reaches into" in r for r in c.reasons)


def test_cheaper_arm_that_is_clearly_faster():
    v = decide({"cheap": reps(1.0, 0.01, seed=6), "dear": reps(1.3, 0.01, seed=7)}, ["cheap", "dear"])
    assert v.verdict == CHEAPER_FASTER and v.recommended == "cheap"


def test_three_arms_recommend_the_cheapest_one_that_ties_with_the_fastest():
    s = {"tcp": reps(1.5, 0.01, seed=8), "roce": reps(1.01, 0.01, seed=9), "ib": reps(1.0, 0.01, seed=10)}
    v = decide(s, ["tcp", "roce", "ib"])
    assert v.verdict == PAYS and v.recommended == "roce" and v.alpha == 0.01
    assert {c.arm: c.alpha for c in v.comparisons} == {"tcp": 0.005, "roce": 0.005}  # Bonferroni


def test_underpowered_design_is_said_and_cannot_pay():
    assert min_p_value(5, 5) == pytest.approx(2 / 252)
    v = decide({"slow": reps(2.0, 0.01, n=3), "fast": reps(1.0, 0.01, n=3)}, ["slow", "fast"])
    assert v.verdict == TIE and any(w.startswith("underpowered") for w in v.warnings)


def test_input_errors():
    with pytest.raises(ValueError):
        decide({"a": [1.0, 1.0]}, ["a"])
    with pytest.raises(ValueError):
        decide({"a": [1.0, 1.1], "b": [1.0, 1.2]}, ["a", "c"])


def test_cost_order_bases():
    arms = [{"name": "ib", "price_usd": 9e4, "rate_bps": None, "tcp": False},
            {"name": "tcp", "price_usd": 2e4, "rate_bps": None, "tcp": True}]
    assert cost_order(arms) == (["tcp", "ib"], "price")
    for a in arms:
        a["price_usd"] = None
    assert cost_order(arms) == (["tcp", "ib"], "transport (TCP < RDMA)")
    emu = [{"name": "fast", "price_usd": None, "rate_bps": 4e9, "tcp": True},
           {"name": "slow", "price_usd": None, "rate_bps": 1e9, "tcp": True}]
    assert cost_order(emu) == (["slow", "fast"], "link rate")
    same = [{"name": "a", "price_usd": None, "rate_bps": None, "tcp": None},
            {"name": "b", "price_usd": None, "rate_bps": None, "tcp": None}]
    assert cost_order(same) == (["a", "b"], "order given (first = cheapest)")


def test_cost_per_unit_by_hand():
    # $31,557.60 over 1 year at 1 sample/s: 31,557,600 samples -> $1000 per million
    assert cost_per_unit(31_557.6, 1.0, 1.0) == pytest.approx(1000.0)
    assert cost_per_unit(None, 1.0, 3.0) is None
