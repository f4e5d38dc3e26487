"""Calibration recovers known efficiencies and predicts held-out batch sizes."""

import pytest

from raxlab.predict.calibrate import MeasuredPoint, backtest, fit, model_time
from raxlab.predict.hardware import Efficiency

PEAKS = {"fp32": 1e12, "bf16": 4e12}
BW = 1e11
PRIOR = Efficiency(matmul={"fp32": 0.7, "bf16": 0.7}, attention=0.5, attention_flash1=0.25, mem_bw=0.8)


def _points(truth):
    pts = []
    for prec in ("fp32", "bf16"):
        for b in (1, 2, 4, 8, 16, 32):
            flops = {"matmul": 2e10 * b, "conv": 1e10 * b, "attention": 0, "other": 1e8 * b}
            nbytes = {"matmul": 1e8 + 2e7 * b, "conv": 5e7 * b, "other": 3e8 * b, "norm": 5e7 * b}
            pts.append(MeasuredPoint(prec, b, 0.0, flops, nbytes, f"{prec} b{b}"))
    return [MeasuredPoint(p.precision, p.batch, model_time(p, PEAKS, BW, *truth), p.flops, p.bytes, p.label)
            for p in pts]


TRUTH = ({"fp32": 0.55, "bf16": 0.35}, 0.5, 0.45, 0.6, 2e-3)  # mm, attention, conv, bw, overhead


def test_fit_reproduces_the_measurements():
    cal = fit(_points(TRUTH), PEAKS, BW, PRIOR)
    assert max(abs(r) for r in cal.residuals) < 0.02
    assert cal.eff.matmul["bf16"] == pytest.approx(0.35, rel=0.15)


def test_backtest_two_batch_sizes_predicts_the_rest():
    res = backtest(_points(TRUTH), lambda p: p.batch in (2, 16), PEAKS, BW, PRIOR)
    assert len(res["rows"]) == 8
    assert res["median_abs"] < 0.05
