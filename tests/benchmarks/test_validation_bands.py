"""The band's coverage computation on synthetic validation errors."""

import numpy as np
import pytest

from benchmarks import validation_bands as vb


def test_percentile_band_covers_80_percent_in_sample():
    rng = np.random.default_rng(0)
    errs = rng.normal(0.0, 0.1, 500)
    lo, hi = vb._band_of(errs)
    assert vb._inside(errs, lo, hi).mean() == pytest.approx(0.8, abs=0.01)


def test_study_biases_widen_the_band_until_held_out_studies_fit():
    rng = np.random.default_rng(1)
    # five studies, each with its own offset and a small spread: in-sample percentiles are too narrow
    errs, studies = [], []
    for s, off in enumerate((-0.15, -0.05, 0.0, 0.05, 0.15)):
        errs += list(off + rng.normal(0.0, 0.02, 20))
        studies += [f"s{s}"] * 20
    errs = np.array(errs)
    assert vb.loso_coverage(errs, studies) < 0.7
    k = vb.widening(errs, studies)
    assert k > 1.0 and vb.loso_coverage(errs, studies, k) >= 0.8


def test_one_study_cannot_be_held_out():
    assert vb.loso_coverage(np.zeros(12), ["only"] * 12) is None
    assert vb.widening(np.zeros(12), ["only"] * 12) is None


def test_pass_needs_enough_rows_and_every_target():
    ok = {"n": 12, "median_abs": 0.05, "max_abs": 0.15, "median_signed": 0.01, "coverage": 0.8, "coverage_loso": 0.78}
    assert vb.passes(ok) is True
    assert vb.passes(ok | {"n": 9}) is None
    assert vb.passes(ok | {"median_signed": 0.05}) is False
    assert vb.passes(ok | {"coverage_loso": 0.6}) is False
