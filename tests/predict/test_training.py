"""Step-time structure: bubble fractions, DP overlap, recompute, TP, and scalar/vector agreement."""

import dataclasses

import numpy as np
import pytest

from raxlab.predict.api import predict_training
from raxlab.predict.hardware import hw_consts
from raxlab.predict.layout import Layout, as_arrays, make_arrays
from raxlab.predict.training import train_core

STAGE_TERMS = ("matmul", "attention", "elementwise", "output_layer", "recompute", "tp_comm", "launch_overhead")


def _terms(shape, hw, lay):
    return predict_training(shape, hw, lay, "fp16").terms


@pytest.mark.parametrize("pp,vpp,m", [(4, 1, 16), (8, 2, 32), (8, 3, 64)])
def test_bubble_is_p_minus_1_over_v_m(gpt175, a100_ib, pp, vpp, m):
    lay = Layout(tp=8, pp=pp, dp=1, micro_batch=1, global_batch=m, vpp=vpp, recompute="full")
    t = _terms(gpt175, a100_ib, lay)
    busy = sum(t[k] for k in STAGE_TERMS)  # m x (time of one micro-batch on the critical stage)
    assert t["bubble"] / busy == pytest.approx((pp - 1) / (vpp * m))


def test_no_pipeline_no_bubble_no_p2p(gpt175, a100_ib):
    t = _terms(gpt175, a100_ib, Layout(tp=8, dp=4, global_batch=8))
    assert t["bubble"] == 0 and t["pp_p2p"] == 0


def test_full_recompute_costs_one_forward(gpt175, a100_ib):
    none = _terms(gpt175, a100_ib, Layout(tp=8, dp=1, global_batch=1))
    full = _terms(gpt175, a100_ib, Layout(tp=8, dp=1, global_batch=1, recompute="full"))
    fwd = (none["matmul"] / 3) + none["tp_comm"] / 2  # matmul fwd is 1/3 of fwd+bwd; TP fwd is half
    assert full["recompute"] > fwd
    assert full["recompute"] < 0.5 * (none["matmul"] + none["attention"] + none["elementwise"] + none["tp_comm"])


def test_overlapped_dp_sync_exposes_at_most_the_unoverlapped(gpt175, a100_ib):
    base = dict(tp=8, pp=8, dp=4, micro_batch=1, global_batch=64)
    over = _terms(gpt175, a100_ib, Layout(**base))["dp_comm"]
    after = _terms(gpt175, a100_ib, Layout(**base, overlap_grad_reduce=False))["dp_comm"]
    assert 0 < over < after


def test_fp32_grad_reduce_doubles_unoverlapped_sync(gpt175, a100_ib):
    base = dict(tp=8, pp=8, dp=4, micro_batch=1, global_batch=64, overlap_grad_reduce=False)
    t2 = _terms(gpt175, a100_ib, Layout(**base))["dp_comm"]
    t4 = _terms(gpt175, a100_ib, Layout(**base, grad_reduce_bytes=4))["dp_comm"]
    assert t4 / t2 == pytest.approx(2, rel=0.05)


def test_more_tp_means_less_compute_more_comm(gpt175, a100_ib):
    t4 = _terms(gpt175, a100_ib, Layout(tp=4, pp=8, dp=1, global_batch=8))
    t8 = _terms(gpt175, a100_ib, Layout(tp=8, pp=8, dp=1, global_batch=8))
    assert t8["matmul"] == pytest.approx(t4["matmul"] / 2, rel=0.02)
    assert t8["tp_comm"] > t4["tp_comm"]


def test_fsdp_shards_weights_and_costs_gathers(llama70, h100_ib):
    p = predict_training(llama70.with_seq(4096), h100_ib, Layout(dp=64, global_batch=64, zero=3,
                                                                   recompute="full"), "bf16")
    assert p.memory_gib["weights"] == pytest.approx(llama70.params * 2 / 64 / 2**30)
    assert p.terms["dp_comm"] == 0 and p.terms["fsdp_comm"] >= 0


def test_vectorised_core_equals_scalar(gpt175, a100_ib):
    lays = [Layout(tp=8, pp=8, dp=4, micro_batch=1, global_batch=128, vpp=2, recompute="selective",
                   sequence_parallel=True),
            Layout(tp=4, pp=16, dp=4, micro_batch=2, global_batch=128, recompute="full", attention="unfused"),
            Layout(tp=8, pp=1, dp=32, micro_batch=1, global_batch=256, zero=1)]
    hc = hw_consts(a100_ib, "bf16")
    cols = {f.name: np.array([float(getattr(as_arrays(l), f.name)) for l in lays])
            for f in dataclasses.fields(as_arrays(lays[0]))}
    batch = train_core(gpt175, make_arrays(**cols), hc)
    for i, lay in enumerate(lays):
        one = predict_training(gpt175, a100_ib, lay, "bf16")
        assert float(batch["step_time_s"][i]) == pytest.approx(one.step_time_s)


def test_fp8_is_faster_than_bf16_on_h100(llama70, h100_ib):
    lay = Layout(tp=8, pp=4, dp=4, micro_batch=1, global_batch=64, sequence_parallel=True, recompute="selective")
    bf16 = predict_training(llama70, h100_ib, lay, "bf16")
    fp8 = predict_training(llama70, h100_ib, lay, "fp8")
    assert fp8.step_time_s < bf16.step_time_s
    assert fp8.mfu < bf16.mfu  # MFU is against the (twice as high) fp8 peak


def test_measured_fabric_fit_overrides_the_prior(gpt175, a100_ib):
    from dataclasses import replace

    from raxlab.predict.hardware import CommFit

    lay = Layout(tp=8, pp=8, dp=4, micro_batch=1, global_batch=64, overlap_grad_reduce=False)
    prior = _terms(gpt175, a100_ib, lay)["dp_comm"]
    slow = replace(a100_ib, measured_inter=CommFit(alpha_s=50e-6, busbw_Bps=a100_ib.rail_bw * 0.96 / 4))
    assert _terms(gpt175, slow, lay)["dp_comm"] > 3 * prior
    fit = CommFit.from_collective_fit(alpha_s=1e-3, busbw_Bps=20e9, ranks=8)
    assert fit.alpha_s == pytest.approx(1e-3 / 14)
