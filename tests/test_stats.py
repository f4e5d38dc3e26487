import numpy as np
import pytest

from raxlab import stats


def test_summary_of_known_samples():
    s = stats.summarize([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert s.n == 10 and s.median == 5.5 and s.min == 1 and s.max == 10
    assert s.q1 == pytest.approx(3.25) and s.q3 == pytest.approx(7.75)
    assert s.iqr == pytest.approx(4.5)
    assert s.rel_iqr == pytest.approx(4.5 / 5.5)
    assert s.noisy  # 82 % spread is far above the 10 % threshold


def test_quiet_samples_are_not_noisy_and_outliers_are_counted():
    s = stats.summarize([1.00, 1.01, 0.99, 1.00, 1.02, 0.98, 5.0])
    assert not s.noisy
    assert s.outliers == 1


def test_empty_samples_rejected():
    with pytest.raises(ValueError):
        stats.summarize([])


def test_identical_arms_are_not_significant():
    rng = np.random.default_rng(1)
    a = rng.normal(1.0, 0.02, 20)
    b = rng.normal(1.0, 0.02, 20)
    assert stats.mann_whitney_p(a, b) > 0.05
    ratio, lo, hi = stats.ratio_of_medians_ci(a, b)
    assert lo < 1.0 < hi


def test_shift_of_20_percent_is_significant():
    rng = np.random.default_rng(2)
    a = rng.normal(1.2, 0.02, 10)
    b = rng.normal(1.0, 0.02, 10)
    assert stats.mann_whitney_p(a, b) < 0.001
    ratio, lo, hi = stats.ratio_of_medians_ci(a, b)
    assert 1.15 < lo <= ratio <= hi < 1.25
