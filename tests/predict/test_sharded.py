"""ZeRO-3/FSDP traffic: 3Ψ per micro-batch, NIC share per GPU when blocking, overlap when prefetched."""

import dataclasses

import numpy as np
import pytest

from raxlab.errors import RaxError
from raxlab.predict.api import predict_training
from raxlab.predict.collectives import group_time, per_gpu_time
from raxlab.predict.hardware import hw_consts
from raxlab.predict.layout import Layout, as_arrays, check_layout, make_arrays
from raxlab.predict.training import train_core

HDR_GPU_SHARE = 200e9 / 8 * 0.96  # one HDR rail per GPU at the catalogue's 96 % of line rate


def _zero3(gpus, mb, gb, tp=1, gather="blocking"):
    return Layout(tp=tp, dp=gpus // tp, micro_batch=mb, global_batch=gb, zero=3, recompute="full",
                  attention="unfused", zero3_gather=gather)


def test_blocking_175b_on_1536_gpus_by_hand(gpt175, a100_ib):
    """~1 TB per GPU per step (3Ψ, Ψ = 175B × 2 bytes) over a 24 GB/s NIC share ≈ 44 s, in series with ~15 s
    of compute: ~45 TFLOP/s on the paper's basis (Megatron SC21 Table 2 published 44)."""
    p = predict_training(gpt175, a100_ib, _zero3(1536, 1, 1536), "fp16")
    by_hand = 3 * gpt175.params * 2 / HDR_GPU_SHARE
    # + ring latency of 96 × 9 collectives (4 matrices gathered twice, one reduce-scatter per layer), each
    # 191 network steps (~15 µs) and 1344 NVLink steps (3.4 µs): ~7.5 ms, ~6.5 s in all
    latency = 96 * 9 * (191 * 15e-6 + 1344 * 3.4e-6)
    assert p.terms["fsdp_comm"] == pytest.approx(by_hand + latency, rel=0.03)
    assert 55 < p.step_time_s < 75


def test_traffic_is_paid_per_micro_batch(gpt175, a100_ib):
    one = predict_training(gpt175, a100_ib, _zero3(1536, 1, 1536), "fp16").terms["fsdp_comm"]
    four = predict_training(gpt175, a100_ib, _zero3(1536, 1, 4 * 1536), "fp16").terms["fsdp_comm"]
    assert four == pytest.approx(4 * one)


def test_tensor_parallel_halves_the_per_gpu_volume(gpt175, a100_ib):
    t1 = predict_training(gpt175, a100_ib, _zero3(768, 2, 1536), "fp16").terms["fsdp_comm"]
    t2 = predict_training(gpt175, a100_ib, _zero3(768, 2, 768, tp=2), "fp16").terms["fsdp_comm"]  # also 1 micro-batch
    assert t2 / t1 == pytest.approx(0.5, rel=0.05)


def test_prefetch_hides_what_compute_covers(gpt175, a100_ib):
    lay = dict(gpus=384, mb=4, gb=1536)
    pre = predict_training(gpt175, a100_ib, _zero3(**lay, gather="prefetch"), "fp16")
    blk = predict_training(gpt175, a100_ib, _zero3(**lay), "fp16")
    assert pre.terms["fsdp_comm"] < 0.02 * pre.step_time_s  # ring over node rails, under 4 sequences of compute
    assert pre.step_time_s < blk.step_time_s


def test_per_gpu_collective_uses_the_nic_share_not_the_node(a100_ib):
    hc = hw_consts(a100_ib, "fp16")
    n = 4e9
    ring, own = group_time("all_gather", n, 64, 8, hc), per_gpu_time("all_gather", n, 64, 8, hc)
    assert own == pytest.approx(63 / 64 * n / HDR_GPU_SHARE, rel=0.01)
    assert own / ring > 6  # the ring shares eight rails per node between the node's GPUs
    assert per_gpu_time("all_gather", n, 8, 8, hc) == pytest.approx(group_time("all_gather", n, 8, 8, hc))


def test_unknown_gather_mode_is_a_one_line_error():
    with pytest.raises(RaxError, match="zero3_gather"):
        check_layout(Layout(dp=8, global_batch=8, zero=3, zero3_gather="eager"))


def test_vector_core_mixes_both_modes(gpt175, a100_ib):
    lays = [_zero3(384, 4, 1536), _zero3(384, 4, 1536, gather="prefetch")]
    cols = {f.name: np.array([float(getattr(as_arrays(lay), f.name)) for lay in lays])
            for f in dataclasses.fields(as_arrays(lays[0]))}
    batch = train_core(gpt175, make_arrays(**cols), hw_consts(a100_ib, "fp16"))
    for i, lay in enumerate(lays):
        assert float(batch["step_time_s"][i]) == pytest.approx(predict_training(gpt175, a100_ib, lay, "fp16").step_time_s)
