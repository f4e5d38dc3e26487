"""Serving a transformer: prefill (compute-bound) and decode (memory-bound), KV cache, TP.

Prefill of a batch of `b` prompts of `p` tokens is a forward pass: matmul FLOPs 2·weights per
token, causal flash attention, the element-wise kernels, 2 TP all-reduces per layer — the
same roofline as training (`compute.py`), forward only.

Each decode step produces one token per sequence and must stream every weight and the whole
KV cache from HBM (Pope et al. 2022, "Efficiently Scaling Transformer Inference", §2):

    t_token = max(2·N·b / (peak·eff), (weights + b·context·kv_bytes_per_token) / bw) / tp
              + 2·layers TP all-reduces of b·hidden values (latency-bound)

KV cache per token = 2 (K and V) × layers × kv_heads × head_dim × bytes. Every function
broadcasts over numpy arrays of (tp, batch) candidates.
"""

from __future__ import annotations

import numpy as np

from raxlab.predict.collectives import group_time
from raxlab.predict.compute import ACT, OTHER_FFN_FWD, OTHER_FFN_FWD_GATED, OTHER_HIDDEN_FWD, roofline


def prefill_time(shape, hc, tp, batch, prompt, w_bytes=2.0):
    """Seconds to run the prompt of `batch` sequences through the model (time to first token)."""
    T = batch * prompt
    mm_flops = T * (shape.layers * shape.layer_matmul_flops_per_token() + shape.head_flops_per_token()) / tp
    weights = (shape.layers * shape.layer_params + shape.vocab * shape.hidden) / tp * w_bytes
    t_mm = roofline(mm_flops, weights + ACT * T * 8 * shape.hidden / tp, hc.peak * hc.eff_mm, hc.mem_bw)
    attn = 0.5 * 4.0 * batch * prompt * prompt * shape.q_dim * shape.layers / tp  # causal flash
    t_attn = attn / (hc.peak_bf16 * hc.eff_attn)
    ffn = OTHER_FFN_FWD_GATED if shape.gated_mlp else OTHER_FFN_FWD
    t_other = T * shape.layers * (OTHER_HIDDEN_FWD * shape.hidden + ffn * shape.ffn / tp) / hc.mem_bw
    t_tp = 2 * shape.layers * group_time("all_reduce", T * shape.hidden * ACT, tp, tp, hc)
    return t_mm + t_attn + t_other + t_tp + shape.layers * hc.layer_overhead


def decode_step_time(shape, hc, tp, batch, context, w_bytes=2.0, kv_bytes=2.0):
    """Seconds per decode step (one new token for each of `batch` sequences at `context`)."""
    weights = (shape.layers * shape.layer_params + shape.vocab * shape.hidden) / tp * w_bytes
    kv_heads = np.maximum(shape.kv / tp, 1.0)
    kv = batch * context * 2.0 * shape.layers * kv_heads * shape.head_dim * kv_bytes
    flops = 2.0 * batch * (shape.layers * shape.layer_params + shape.vocab * shape.hidden) / tp
    flops = flops + 4.0 * batch * context * shape.q_dim * shape.layers / tp
    t = roofline(flops, weights + kv, hc.peak * hc.eff_mm, hc.mem_bw)
    t_tp = 2 * shape.layers * group_time("all_reduce", batch * shape.hidden * ACT, tp, tp, hc)
    return t + t_tp + shape.layers * hc.layer_overhead


def serving_memory(shape, tp, batch, context, w_bytes=2.0, kv_bytes=2.0, workspace=2.5e9):
    """Bytes per GPU: weight shard, KV cache for `batch` sequences of `context`, workspace."""
    weights = shape.params / tp * w_bytes
    kv_heads = np.maximum(shape.kv / tp, 1.0)
    kv = batch * context * 2.0 * shape.layers * kv_heads * shape.head_dim * kv_bytes
    return {"weights": weights, "kv_cache": kv, "workspace": workspace + 0.0 * kv,
            "total": weights + kv + workspace}


def serve(shape, hc, tp, batch, prompt, gen, w_bytes=2.0, kv_bytes=2.0):
    """Latency and throughput of static batches: time to first token, time per output token
    (at the mean context of the generation), request latency, output tokens/s per replica, per
    GPU of the replica and per user (one stream)."""
    ttft = prefill_time(shape, hc, tp, batch, prompt, w_bytes)
    tpot = decode_step_time(shape, hc, tp, batch, prompt + gen / 2.0, w_bytes, kv_bytes)
    latency = ttft + gen * tpot
    out_tps = batch * gen / latency
    # the field's two throughputs (AIConfigurator, InferenceMAX): output tokens/s per GPU (the
    # cost side) and per user, the decode speed one stream sees (1 / time per output token)
    return {"ttft_s": ttft, "tpot_s": tpot, "request_latency_s": latency,
            "output_tokens_per_s": out_tps, "requests_per_s": batch / latency,
            "tokens_per_s_per_gpu": out_tps / tp, "tokens_per_s_per_user": 1.0 / tpot}
