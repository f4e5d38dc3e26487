"""The A/B verdict on synthetic paired rounds with known answers (the rule: raxlab.equivalence)."""

import numpy as np
import pytest

from raxlab.measure.ab_stats import CHEAPER_FASTER, INCONCLUSIVE, PAYS, TIE, compare, cost_order, cost_per_unit, decide


def rounds(medians: dict[str, float], rel_noise: float, n: int = 10, seed: int = 1, drift: float = 0.0) -> dict:
    """Per-round samples of each arm: its median x the machine's speed in that round (drifting by
    `drift` over the run, the same for every arm of a round) x independent noise."""
    rng = np.random.default_rng(seed)
    speed = 1 + drift * np.linspace(0, 1, n)
    return {a: list(m * speed * (1 + rel_noise * rng.standard_normal(n))) for a, m in medians.items()}


def test_identical_arms_are_a_proven_tie():
    s = rounds({"cheap": 1.0, "dear": 1.0}, 0.01)
    v = decide(s, ["cheap", "dear"])
    assert v.verdict == TIE and v.decision == "tie" and v.recommended == "cheap"
    c = v.comparisons[0]
    assert c.decision == "equivalent" and 0.95 <= c.ci[0] and c.ci[1] <= 1.05 and c.ci_level == pytest.approx(0.9)


def test_eight_percent_shift_with_small_noise_pays():
    v = decide(rounds({"slow": 1.08, "fast": 1.0}, 0.005, seed=2), ["slow", "fast"])
    c = v.comparisons[0]
    assert v.verdict == PAYS and v.recommended == "fast" and v.fastest == "fast" and c.materially_slower
    assert 1.05 < c.ci[0] <= c.ratio <= c.ci[1] < 1.11 and c.sign["slower"] == 10


def test_eight_percent_shift_with_large_noise_is_inconclusive_with_what_would_settle_it():
    v = decide(rounds({"slow": 1.08, "fast": 1.0}, 0.2, seed=3), ["slow", "fast"])
    c = v.comparisons[0]
    assert v.verdict == INCONCLUSIVE and v.recommended is None and c.decision == "inconclusive"
    assert c.more_pairs and c.more_pairs > 10 and "more pairs would likely settle" in c.reasons[0]
    assert any("limits this A/B" in w for w in v.warnings)  # pair noise above the threshold


def test_drift_is_cancelled_by_pairing():
    s = rounds({"cheap": 1.0, "dear": 1.0}, 0.01, seed=4, drift=1.0)  # the machine halves its speed
    v = decide(s, ["cheap", "dear"])
    assert v.verdict == TIE and v.arms["cheap"]["rel_iqr"] > 0.3  # each arm alone is all drift


def test_load_stretch_turns_a_tie_under_load_into_inconclusive():
    s = rounds({"slow": 1.03, "fast": 1.0}, 0.004, seed=5)
    assert decide(s, ["slow", "fast"]).verdict == TIE
    v = decide(s, ["slow", "fast"], stretch=2.0)  # on a quiet machine the 3 % could be 6 %
    assert v.verdict == INCONCLUSIVE and "widened x2.00" in v.comparisons[0].reasons[-1]


def test_cheaper_arm_that_is_clearly_faster():
    v = decide(rounds({"cheap": 1.0, "dear": 1.3}, 0.01, seed=6), ["cheap", "dear"])
    assert v.verdict == CHEAPER_FASTER and v.recommended == "cheap"


def test_three_arms_recommend_the_cheapest_one_equivalent_to_the_fastest():
    s = rounds({"tcp": 1.5, "roce": 1.005, "ib": 1.0}, 0.005, seed=8)
    v = decide(s, ["tcp", "roce", "ib"])
    assert v.verdict == PAYS and v.recommended == "roce" and v.level == pytest.approx(0.025)  # Bonferroni
    s = rounds({"tcp": 1.04, "roce": 1.005, "ib": 1.0}, 0.08, seed=9)
    v = decide(s, ["tcp", "roce", "ib"])
    assert v.verdict == INCONCLUSIVE and v.recommended is None  # tcp might be enough: not yet known


def test_compare_and_input_errors():
    c = compare("x", [1.2, 1.21, 1.19], "y", [1.0, 1.0, 1.0], threshold=0.05, level=0.05)
    assert c.decision == "slower" and c.to_dict()["materially_slower"] and c.to_dict()["ci"][0] > 1.05
    with pytest.raises(ValueError):
        decide({"a": [1.0, 1.0]}, ["a"])
    with pytest.raises(ValueError):
        decide({"a": [1.0, 1.1], "b": [1.0, 1.2]}, ["a", "c"])
    with pytest.raises(ValueError):
        decide({"a": [1.0, 1.1], "b": [1.0]}, ["a", "b"])


def test_cost_order_bases():
    arms = [{"name": "ib", "price_usd": 9e4, "rate_bps": None, "tcp": False},
            {"name": "tcp", "price_usd": 2e4, "rate_bps": None, "tcp": True}]
    assert cost_order(arms) == (["tcp", "ib"], "price")
    for a in arms:
        a["price_usd"] = None
    assert cost_order(arms) == (["tcp", "ib"], "transport (TCP < RDMA)")
    emu = [{"name": "fast", "price_usd": None, "rate_bps": 4e9, "tcp": True},
           {"name": "slow", "price_usd": None, "rate_bps": 1e9, "tcp": True}]
    assert cost_order(emu) == (["slow", "fast"], "emulated capacity")
    same = [{"name": "a", "price_usd": None, "rate_bps": None, "tcp": None},
            {"name": "b", "price_usd": None, "rate_bps": None, "tcp": None}]
    assert cost_order(same) == (["a", "b"], "order given (first = cheapest)")


def test_cost_per_unit_by_hand():
    # $31,557.60 over 1 year at 1 sample/s: 31,557,600 samples -> $1000 per million
    assert cost_per_unit(31_557.6, 1.0, 1.0) == pytest.approx(1000.0)
    assert cost_per_unit(None, 1.0, 3.0) is None
