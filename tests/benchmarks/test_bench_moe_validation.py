"""The MoE / long-context validation rows: every row is sourced and projectable, errors are on
tokens/s per GPU, and the slice statistics are what the rows give."""

import math

import pytest

from benchmarks import bench_moe_validation as bench


@pytest.fixture(scope="module")
def res():
    return bench.results()


def test_every_row_has_a_source_and_a_slice():
    rows = bench.rows()
    assert len(rows) >= 20
    for r in rows:
        assert r["source"].strip() and r["study"].strip() and r["slice"] in ("moe", "cp")
        assert r["use_in_stats"] in ("true", "false")
        if r["use_in_stats"] == "false":
            assert r["notes"].startswith("Excluded")


def test_projections_are_finite_and_errors_on_tokens_per_gpu(res):
    assert sum(1 for c, *_ in res if c.row["slice"] == "moe") >= 10
    for c, pred, err, _ in res:
        assert math.isfinite(pred) and pred > 0
        assert err == pytest.approx(pred / float(c.row["tokens_per_s_per_gpu"]) - 1)
        assert c.layout.gpus == int(c.row["num_gpus"])  # the published layout, whole
        if c.row["slice"] == "moe":
            assert c.shape.moe is not None and c.imbalance == 1.0  # the tables force-balance routing


def test_slice_summary_matches_the_rows(res):
    s = bench.slice_summary(res)
    moe = [e for c, _, e, _ in res if c.row["slice"] == "moe"]
    assert s["moe"]["n"] == len(moe) and s["moe"]["max_abs"] == pytest.approx(max(abs(e) for e in moe))
    assert s["cp"]["pass"] is None or s["cp"]["n"] >= bench.MIN_ROWS  # targets only from 10 rows
