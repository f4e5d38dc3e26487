"""The Hopper/Blackwell cases: every CSV row is either projected or skipped with a reason, and the
published side of each case is the source's own number on the source's own FLOP basis."""

from __future__ import annotations

import math

import pytest

from benchmarks import validation_hopper_blackwell as hb


@pytest.fixture(scope="module")
def built():
    return hb.hopper_blackwell_cases()


def test_every_row_is_projected_or_skipped_with_a_reason(built):
    cases, skipped = built
    assert len(cases) + len(skipped) == len(hb._rows())
    assert all(why.strip() for _, why in skipped)
    assert not [c for c in cases if c.gpu not in hb.SYSTEMS]


def test_published_side_reproduces_the_source_figure(built):
    cases, _ = built
    for c in cases:
        r = c.row
        if r["model_tflops_per_gpu"]:  # NeMo / Megatron-Bridge: the table's own TFLOP/s
            assert c.published_tflops == pytest.approx(float(r["model_tflops_per_gpu"]), abs=0.06)
        elif r["mfu_pct"]:  # dgxc-benchmarking: MFU x the peak the source divides by
            mfu_tflops = float(r["mfu_pct"]) * float(r["peak_tflops_assumed"]) / 100
            assert c.published_tflops == pytest.approx(mfu_tflops, rel=0.01)


def test_projections_are_finite_and_on_the_same_basis(built):
    cases, _ = built
    for c, pred, err in hb.base.errors(cases[:12]):
        assert math.isfinite(pred) and pred > 0
        assert err == pytest.approx(pred / c.published_tflops - 1)
