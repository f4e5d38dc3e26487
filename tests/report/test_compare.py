"""`rax runs compare` per point: the same equivalence rule as `rax abtest`, on independent samples."""

import numpy as np

from raxlab.report.compare import point_change


def _point(samples) -> dict:
    return {"kind": "compute", "name": "step", "status": "ok", "samples": list(samples)}


def _times(median: float, cv: float, n: int, seed: int) -> list[float]:
    return list(median * np.exp(cv * np.random.default_rng(seed).standard_normal(n)))


def test_equal_runs_with_little_noise_are_a_proven_tie():
    row = point_change(_point(_times(1.0, 0.01, 20, 1)), _point(_times(1.0, 0.01, 20, 2)), 0.05, 0.05)
    assert row["verdict"] == "tie" and 0.95 <= row["ci"][0] and row["ci"][1] <= 1.05 and "equivalent" in row["why"]


def test_noise_that_hides_the_answer_is_inconclusive_not_a_tie():
    row = point_change(_point(_times(1.0, 0.3, 8, 3)), _point(_times(1.02, 0.3, 8, 4)), 0.05, 0.05)
    assert row["verdict"] == "inconclusive" and "more samples" in row["why"]


def test_a_clear_change_is_slower_or_faster():
    a, b = _times(1.0, 0.02, 10, 5), _times(1.2, 0.02, 10, 6)
    assert point_change(_point(a), _point(b), 0.05, 0.05)["verdict"] == "slower"
    assert point_change(_point(b), _point(a), 0.05, 0.05)["verdict"] == "faster"
    assert point_change(_point([1.0, 1.1]), _point([1.0, 1.2]), 0.05, 0.05)["verdict"] == "inconclusive"
