"""The network verdict under load: pays / tie / inconclusive from synthetic intervals, and a real
plan showing RoCE in both regimes with the price of tuning and the acceptance thresholds."""

import pytest

from raxlab.plan import fabric_verdict as fv

TIE = 0.05


@pytest.mark.parametrize("ci, decision", [
    ((1.08, 1.20), fv.PAYS),          # the whole interval above 1 + θ
    ((0.97, 1.04), fv.TIE),           # inside ±θ: equivalence proven
    ((0.99, 1.30), fv.INCONCLUSIVE),  # spans the threshold: neither
    ((0.83, 1.26), fv.INCONCLUSIVE),  # the 'tie' that proved nothing
    ((0.80, 0.90), fv.REVERSED),      # the first fabric is surely faster
])
def test_decision_from_an_interval(ci, decision):
    assert fv.decide(*ci, TIE) == decision


def _proj(ratio, lo, hi):
    return {"ratio": ratio, "ci": [lo, hi], "label": "projected"}


def test_a_measurement_on_the_scale_to_buy_decides_alone():
    meas = {"ratio": 1.0, "ci": [0.98, 1.03], "nodes": 4, "n": [20, 20]}
    out = fv.combine(_proj(1.15, 1.10, 1.25), meas, TIE, same_scale=True)
    assert out["decision"] == fv.TIE and out["basis"].startswith("measured")


def test_a_small_scale_measurement_joins_the_projection_and_must_agree():
    agree = fv.combine(_proj(1.12, 1.08, 1.18), {"ratio": 1.10, "ci": [1.07, 1.14], "nodes": 2, "n": [10, 10]},
                       TIE, same_scale=False)
    assert agree["decision"] == fv.PAYS and agree["ci"] == [1.07, 1.18]
    disagree = fv.combine(_proj(1.12, 1.08, 1.18), {"ratio": 1.0, "ci": [0.97, 1.03], "nodes": 2, "n": [10, 10]},
                          TIE, same_scale=False)
    assert disagree["decision"] == fv.INCONCLUSIVE and disagree["next_step"]["step"] == "two-node-test"


def test_an_inconclusive_ab_asks_for_more_repetitions_when_its_noise_dominates():
    out = fv.combine(_proj(1.02, 1.00, 1.04), {"ratio": 1.08, "ci": [0.95, 1.21], "nodes": 4, "n": [7, 7]},
                     TIE, same_scale=True)
    step = out["next_step"]
    assert out["decision"] == fv.INCONCLUSIVE and step["step"] == "longer-abtest"
    # half-width 0.13 must shrink to the 0.03 between the ratio and 1 + θ: (0.13 / 0.03)^2 ≈ 19x the 7 reps
    assert "about 132 repetitions per arm (now 7)" in step["what"]


def test_a_tie_needs_the_interval_to_fit_inside_the_band():
    # ratio 1.01: the CI half-width must shrink below 0.04 (to 1.05); now 0.08: (0.08/0.04)^2 = 4x the 10 reps
    out = fv.combine(_proj(1.0, 0.99, 1.01), {"ratio": 1.01, "ci": [0.93, 1.09], "nodes": 4, "n": [10, 10]},
                     TIE, same_scale=True)
    assert out["decision"] == fv.INCONCLUSIVE and "about 40 repetitions per arm (now 10)" in out["next_step"]["what"]


def test_without_a_measurement_an_inconclusive_projection_asks_for_a_two_node_test():
    out = fv.combine(_proj(1.05, 1.01, 1.12), None, TIE, same_scale=False)
    assert out["decision"] == fv.INCONCLUSIVE and out["next_step"]["step"] == "two-node-test"


def test_a_plan_shows_roce_in_both_regimes_with_the_tuning_price_and_thresholds(make_module):
    plan = make_module("megatron-1.7b", targets={"deadline_days": 2}, accelerators=["h100-sxm"],
                       fabrics=["ib-ndr", "roce-400"])
    net = plan["verdicts"]["network"]
    load = net["under_load"]
    assert set(load["regimes"]) == {"tuned", "ecmp-default"}
    row = load["rows"][0]["by_regime"]
    tuned, ecmp = row["tuned"], row["ecmp-default"]
    assert tuned["tuning_usd"] == pytest.approx(6 * 5000) and ecmp["tuning_usd"] == 0.0
    assert load["tuning"]["label"] == "estimate" and load["tuning"]["engineer_weeks"] == [2.0, 6.0, 16.0]
    assert ecmp["projected"]["ratio"] > tuned["projected"]["ratio"]  # plain ECMP is never faster
    assert ecmp["step_time_s"] >= tuned["step_time_s"]
    assert {tuned["decision"], ecmp["decision"]} <= {fv.PAYS, fv.TIE, fv.INCONCLUSIVE, fv.REVERSED}
    assert "tuned:" in load["sentence"] and "ecmp-default:" in load["sentence"] and "engineer-weeks" in load["sentence"]
    assert load["summary"].startswith("Under load, RoCE roce-400: tuned") and "engineer-weeks" in load["summary"]
    th = {r["collective"]: r for r in plan["acceptance"]["thresholds"]["rows"]}
    assert set(th) == {"all_reduce", "all_to_all"}
    assert th["all_reduce"]["min_GBps"] == pytest.approx(0.9 * th["all_reduce"]["projected_GBps"])
