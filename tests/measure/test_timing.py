import time

from raxlab.measure.timing import Policy, Spec, measure


def test_sleep_is_timed_with_raw_samples():
    res = measure(Spec("sleep", run=lambda _: time.sleep(0.005), calibrate=False),
                  Policy(min_reps=5, max_reps=20, max_seconds=2))
    assert 5 <= len(res.samples_s) <= 20
    assert 0.004 < res.summary.median < 0.02
    assert res.summary.n == len(res.samples_s)
    assert res.stop_reason in ("converged", "time_cap", "rep_cap")


def test_tiny_ops_are_calibrated_into_blocks():
    res = measure(Spec("noop", run=lambda s: s.append(1), setup=list),
                  Policy(min_reps=3, max_reps=5, min_sample_s=1e-3))
    assert res.inner > 100  # one append is far below 1 ms, so samples are blocks
    assert res.summary.median < 1e-5


def test_bandwidth_and_flop_rate_derive_from_the_median():
    res = measure(Spec("sleep", run=lambda _: time.sleep(0.002), calibrate=False,
                       bytes_per_op=2e6, flops_per_op=4e6), Policy(min_reps=3, max_reps=5))
    assert res.bandwidth_Bps == 2e6 / res.summary.median
    assert res.flop_rate == 4e6 / res.summary.median
    assert res.to_dict()["summary"]["median"] == res.summary.median
