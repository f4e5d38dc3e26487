"""The projection object: keys, N/A terms, error band, fit check, speed of one prediction."""

import json
import time

import pytest

from raxlab.errors import RaxError
from raxlab.predict.api import predict_inference, predict_training
from raxlab.predict.layout import Layout

KEYS = {"step_time_s", "tokens_per_s", "samples_per_s", "tflops_per_gpu", "mfu", "memory_per_gpu_gib", "fits",
        "terms", "error_band", "assumptions", "layout", "hardware"}


def test_projection_dict_has_the_promised_keys(llama70, h100_ib):
    p = predict_training(llama70, h100_ib, Layout(tp=8, pp=4, dp=32, global_batch=1024, recompute="selective",
                                                 sequence_parallel=True), "bf16", gpus=1024)
    d = p.to_dict()
    assert KEYS <= set(d)
    assert {"compute", "communication", "bubble", "data_loading", "recompute"} <= set(d["terms"])
    assert set(d["terms"]["communication"]) == {"tp_activation_allreduce", "pp_p2p", "dp_grad_sync",
                                                "zero3_fsdp_gather_scatter"}
    assert d["terms"]["data_loading"] is None  # unknown without a measured loader: N/A, not 0
    assert d["error_band"]["low"] < 0 < d["error_band"]["high"]
    json.dumps(d, allow_nan=False)
    parts = sum(v for k, v in p.terms.items() if v is not None)
    assert parts == pytest.approx(p.step_time_s)
    assert p.tokens_per_s == pytest.approx(1024 * 8192 / p.step_time_s)


def test_fit_check(llama70, h100_ib):
    fits = predict_training(llama70, h100_ib, Layout(tp=8, pp=4, dp=32, global_batch=1024, recompute="full",
                                                    sequence_parallel=True), "bf16")
    too_big = predict_training(llama70, h100_ib, Layout(tp=1, pp=1, dp=1, global_batch=1), "bf16")
    assert fits.fits and not too_big.fits


def test_layout_checked_against_the_model(llama70, h100_ib):
    with pytest.raises(RaxError, match="^tp:"):
        predict_training(llama70, h100_ib, Layout(tp=3, global_batch=1), "bf16")  # 64 heads
    with pytest.raises(RaxError, match="^pp:"):
        predict_training(llama70, h100_ib, Layout(pp=81, global_batch=81), "bf16")  # 80 layers


def test_tp_across_nodes_is_projected_with_a_warning(llama70, h100_ib):
    inside = predict_training(llama70, h100_ib, Layout(tp=8, dp=2, global_batch=16), "bf16")
    across = predict_training(llama70, h100_ib, Layout(tp=16, global_batch=16), "bf16")
    assert any("spans more than one 8-GPU node" in a for a in across.assumptions)
    assert not any("spans more than one" in a for a in inside.assumptions)
    # per micro-batch (8 vs 16 of them): 16-way TP halves the GEMMs, but the same activation
    # all-reduces now also cross the scale-out rails every layer
    assert across.terms["tp_comm"] / 16 > inside.terms["tp_comm"] / 8
    assert across.terms["matmul"] / 16 < inside.terms["matmul"] / 8


def test_unsupported_precision_is_an_error(gpt175, a100_ib):
    with pytest.raises(RaxError, match="precision"):
        predict_training(gpt175, a100_ib, Layout(tp=8, global_batch=1), "fp8")


def test_one_prediction_is_fast(llama70, h100_ib):
    lay = Layout(tp=8, pp=4, dp=32, global_batch=1024)
    predict_training(llama70, h100_ib, lay, "bf16")
    n = 50
    t0 = time.perf_counter()
    for _ in range(n):
        predict_training(llama70, h100_ib, lay, "bf16")
    assert (time.perf_counter() - t0) / n < 0.02  # loose here (shared CI cores); ≤ 1 ms in benchmarks/


def test_inference_decode_is_memory_bound(llama70, h100_ib):
    out = predict_inference(llama70, h100_ib, tp=8, batches=(1, 64), prompt=1024, gen=128)
    one, many = out["per_batch"]
    # batch 1: streaming the 8-way weight shard dominates: >= weights / (HBM bw x efficiency)
    shard = llama70.params * 2 / 8
    assert one["tpot_s"] >= shard / h100_ib.mem_bw
    assert many["output_tokens_per_s"] > 10 * one["output_tokens_per_s"]
    assert many["kv_cache_gib"] == pytest.approx(64 * 1152 * llama70.kv_cache_bytes_per_token() / 8 / 2**30)
    assert out["error_band"] is None
