"""Serving a transformer: prefill (compute-bound) and decode (memory-bound), KV cache, TP.

Prefill of a batch of `b` prompts of `p` tokens is a forward pass: matmul FLOPs 2·weights per
token, causal flash attention, the element-wise kernels, 2 TP all-reduces per layer — the
same roofline as training (`compute.py`), forward only.

Each decode step produces one token per sequence and must stream every weight and the whole
KV cache from HBM (Pope et al. 2022, "Efficiently Scaling Transformer Inference", §2):

    t_token = max(2·N·b / (peak·eff), (weights + b·context·kv_bytes_per_token) / bw) / tp
              + 2·layers TP all-reduces of b·hidden values (latency-bound)

KV cache per token = 2 (K and V) × layers × kv_heads × head_dim × bytes; under multi-head latent
attention (DeepSeek-V2 §2.1.3) layers × (kv_lora_rank + qk_rope_head_dim) × bytes, the latent
shared by every head and so held whole on each TP rank.

Mixture of experts: every expert is resident (memory counts all weights), but a decode step of
`b` tokens reads only the experts they are routed to: per MoE block E·(1 − (1 − k/E)^b) distinct
experts in expectation when routing is uniform (each token picks k of E), plus the dense parts,
shared experts and routers; its FLOPs are the active parameters' (`shape.layer_active_params`).
Every function broadcasts over numpy arrays of (tp, batch) candidates.
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
    t_other = T * shape.layers * (OTHER_HIDDEN_FWD * shape.hidden + ffn * shape.dense_view().ffn / tp) / hc.mem_bw
    t_tp = 2 * shape.layers * group_time("all_reduce", T * shape.hidden * ACT, tp, tp, hc)
    return t_mm + t_attn + t_other + t_tp + shape.layers * hc.layer_overhead


def experts_touched(shape, batch):
    """Expected distinct routed experts per MoE block that `batch` tokens use (uniform routing)."""
    m = shape.moe
    return m.experts * (1.0 - (1.0 - m.top_k / m.experts) ** np.asarray(batch, dtype=float))


def decode_weight_params(shape, batch):
    """Parameters a decode step of `batch` tokens reads: everything but the routed experts no
    token of the step uses (all of them for a dense model)."""
    if shape.moe is None:
        return shape.layers * shape.layer_params + shape.vocab * shape.hidden
    unused = shape.moe.experts - experts_touched(shape, batch)
    return (shape.block_params - shape.n_moe * unused * shape.moe.expert_params(shape.hidden)
            + shape.vocab * shape.hidden)


def kv_bytes_per_token_gpu(shape, tp, kv_bytes=2.0):
    """KV cache bytes per token of context on one GPU of a TP group (KV heads split, replicated
    when tp exceeds them; an MLA latent is whole on every rank)."""
    if shape.mla is not None:
        return shape.kv_cache_bytes_per_token(kv_bytes) + 0.0 * np.asarray(tp, dtype=float)
    return 2.0 * shape.layers * np.maximum(shape.kv / tp, 1.0) * shape.head_dim * kv_bytes


def decode_step_time(shape, hc, tp, batch, context, w_bytes=2.0, kv_bytes=2.0):
    """Seconds per decode step (one new token for each of `batch` sequences at `context`)."""
    weights = decode_weight_params(shape, batch) / tp * w_bytes
    kv = batch * context * kv_bytes_per_token_gpu(shape, tp, kv_bytes)
    flops = 2.0 * batch * (shape.layers * shape.layer_active_params + shape.vocab * shape.hidden) / tp
    flops = flops + 4.0 * batch * context * shape.q_dim * shape.layers / tp
    t = roofline(flops, weights + kv, hc.peak * hc.eff_mm, hc.mem_bw)
    t_tp = 2 * shape.layers * group_time("all_reduce", batch * shape.hidden * ACT, tp, tp, hc)
    return t + t_tp + shape.layers * hc.layer_overhead


def serving_memory(shape, tp, batch, context, w_bytes=2.0, kv_bytes=2.0, workspace=2.5e9):
    """Bytes per GPU: weight shard, KV cache for `batch` sequences of `context`, workspace."""
    weights = shape.params / tp * w_bytes
    kv = batch * context * kv_bytes_per_token_gpu(shape, tp, kv_bytes)
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
