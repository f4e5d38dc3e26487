"""Memory per GPU: weights, gradients, optimizer states, activations, workspace.

Mixed-precision Adam keeps 16-bit weights, gradients (16- or 32-bit) and 12 bytes of fp32
state per parameter (master copy, first and second moment): 16 bytes per parameter with
16-bit gradients (Rajbhandari et al. 2020, ZeRO, §3.1). ZeRO-1 shards the optimizer state
over the data-parallel ranks, ZeRO-2 also the gradients, ZeRO-3/FSDP also the weights.

Activations per transformer layer (Korthikanti et al. 2022, arXiv:2205.05198, §4, Table 2),
bytes, s = sequence, b = micro-batch, h = hidden, a = heads, t = TP:
    no recompute, TP only         s·b·h·(10 + 24/t + 5·a·s/(h·t))
    no recompute, TP + SP         s·b·h·(34 + 5·a·s/h)/t
    selective recompute           drops the 5·a·s/h score term (as does a flash kernel)
    full recompute                2·s·b·h (the layer input only; /t with SP)
The first pipeline stage holds `pp` micro-batches in flight under 1F1B, so it stores the
activations of l/pp × pp = l layers; interleaving adds a factor 1 + (pp−1)/(pp·v) (§4.2.3).

All functions broadcast over numpy arrays.
"""

from __future__ import annotations

import numpy as np

OPT_BYTES = 12.0  # fp32 master weights + Adam m and v
GIB = 2.0**30


def model_state_bytes(params_gpu, dp, zero, w_bytes=2.0, grad_bytes=2.0, opt_bytes=OPT_BYTES, trainable=None):
    """(weights, gradients, optimizer) bytes per GPU; `params_gpu` after TP/PP splitting.
    `trainable` (default: all of them) are the parameters with gradients and optimizer state
    (LoRA: the adapters only; the frozen base weights are stored, not trained)."""
    trainable = params_gpu if trainable is None else trainable
    w = params_gpu * w_bytes / np.where(zero >= 3, dp, 1.0)
    g = trainable * grad_bytes / np.where(zero >= 2, dp, 1.0)
    o = trainable * opt_bytes / np.where(zero >= 1, dp, 1.0)
    return w, g, o


def activation_bytes_per_layer(s, b, h, a, t, sp, recompute, attn):
    """Korthikanti Table 2 (recompute codes: 0 none, 1 selective, 2 full; attn code 0 = unfused)."""
    sbh = s * b * h
    score = np.where((recompute >= 1) | (attn > 0), 0.0, 5.0 * a * s / h)
    with_sp = sbh * (34.0 + score) / t
    without_sp = sbh * (10.0 + 24.0 / t + score / t)
    stored = np.where(sp > 0, with_sp, without_sp)
    full = 2.0 * sbh / np.where(sp > 0, t, 1.0)
    return np.where(recompute >= 2, full, stored)


def fused_activation_bytes_per_layer(shape, s, b, t, sp, recompute, in_bytes=2.0):
    """Bytes saved for backward per layer with fused attention (flash / cuDNN) and no dropout
    (Llama-, Nemotron-, Mixtral-era recipes set hidden and attention dropout to 0), counted per
    tensor as Korthikanti et al. 2022 §4 count them, per token: LayerNorm inputs 2h + 2h, QKV
    input (LayerNorm output) and MLP input (second LayerNorm output) `in_bytes`·h each, Q, K, V
    2·(q + 2·kv), the attention output 2q (the flash backward needs it) and, under fp8, its fp8
    copy for the output projection, the MLP up output 2·g·f (g = 2 gated), the MLP down input
    `in_bytes`·f. Transformer Engine keeps the fp8 cast of each linear layer's input for its
    weight gradient (`in_bytes` = 1 under fp8, 2 otherwise). Without dropout masks a GPT layer is
    32·h (Korthikanti's 34·h less its two 1-byte masks). Sequence parallelism splits everything
    over TP; without it the LayerNorm part is replicated. Selective recompute drops nothing
    further (the s² scores are never stored by a fused kernel); full recompute keeps the input."""
    h, q, kv, f = float(shape.hidden), float(shape.q_dim), float(shape.kv_dim), float(shape.ffn)
    g = 2.0 if shape.gated_mlp else 1.0
    fp8_copy = np.where(in_bytes < 2.0, q, 0.0)
    replicated = (4.0 + 2.0 * in_bytes) * h
    split = 2.0 * (q + 2.0 * kv) + 2.0 * q + fp8_copy + 2.0 * g * f + in_bytes * f
    per_token = np.where(sp > 0, (replicated + split) / t, replicated + split / t)
    full = 2.0 * h / np.where(sp > 0, t, 1.0)
    return s * b * np.where(recompute >= 2, full, per_token)


def pipeline_activation_factor(pp, vpp, microbatches):
    """Layers' worth of activations the first stage holds, as a multiple of l (all layers)."""
    in_flight = np.minimum(microbatches, pp) / pp
    return in_flight * np.where(vpp > 1, 1.0 + (pp - 1) / (pp * vpp), 1.0)


def kv_cache_bytes(shape, batch, context, dtype_bytes=2.0, tp=1):
    """K and V for `batch` sequences of `context` tokens, per GPU under TP (KV heads split,
    replicated when tp > kv_heads)."""
    per_gpu_heads = np.maximum(shape.kv / tp, 1.0)
    return 2.0 * shape.layers * per_gpu_heads * shape.head_dim * dtype_bytes * batch * context
