"""DDP step predictor: bucketed all-reduce under the backward, by hand."""

import pytest

from raxlab.predict.ddp import buckets_for, exposed_comm, predict_ddp_step, scale_fit
from raxlab.predict.hardware import CommFit

FIT = CommFit(alpha_s=100e-6, busbw_Bps=100e6)  # ~1 gbit/s link, 100 us per ring step


def test_buckets_follow_ddp_caps():
    assert buckets_for(60 * 2**20) == [2**20, 25 * 2**20, 25 * 2**20, 9 * 2**20]
    assert buckets_for(0.5 * 2**20) == [0.5 * 2**20]


def test_one_rank_communicates_nothing():
    p = predict_ddp_step(0.3, FIT, 1, grad_bytes=10e6)
    assert p.step_s == 0.3 and p.exposed_comm_s == 0


def test_two_buckets_by_hand():
    # 2 ranks: each bucket costs 2·α + n/busbw. Bucket 1 (1 MB) ready at 0.5 s·1/10, bucket 2 (9 MB) at 0.5 s.
    exposed, total = exposed_comm([1e6, 9e6], 0.5, FIT, 2)
    c1, c2 = 2e-4 + 1e6 / 100e6, 2e-4 + 9e6 / 100e6
    assert total == pytest.approx(c1 + c2)
    assert exposed == pytest.approx(c2)  # bucket 1 done long before the backward ends


def test_link_slower_than_backward_exposes_the_backlog():
    sizes = [1e6] * 10
    exposed, total = exposed_comm(sizes, 0.01, FIT, 2)  # 10 ms of backward, ~102 ms of comm
    # back to back from the first bucket's readiness (1 ms): only the rest of the backward (9 ms) hides any
    assert exposed == pytest.approx(0.001 + total - 0.01)


def test_backward_defaults_to_two_thirds_of_the_step():
    a = predict_ddp_step(0.9, FIT, 2, bucket_bytes=[1e6, 20e6])
    b = predict_ddp_step(0.9, FIT, 2, bucket_bytes=[1e6, 20e6], backward_s=0.6)
    assert a.step_s == pytest.approx(b.step_s)


def test_scaling_the_link_rate_scales_bandwidth_only():
    two = scale_fit(FIT, 1.0, 2.0)
    assert two.busbw_Bps == pytest.approx(2 * FIT.busbw_Bps) and two.alpha_s == FIT.alpha_s
    slow = predict_ddp_step(0.1, FIT, 2, grad_bytes=30e6)
    fast = predict_ddp_step(0.1, two, 2, grad_bytes=30e6)
    assert fast.exposed_comm_s < slow.exposed_comm_s
