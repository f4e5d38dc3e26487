"""Training step time and memory of a transformer on a candidate: the shared vectorised core.

`train_core(shape, la, hc)` evaluates any number of candidates at once (numpy arrays in
`LayoutArrays` and/or `HwConsts`) and returns named per-step terms in seconds. The step is:

    step = m·t_stage                          compute on the critical (slowest) pipeline stage
         + (pp−1)/vpp · t_stage               pipeline bubble (1F1B; interleaved: ÷ v)
         + pp p2p (activations, gradients)    Megatron sends in line with the schedule
         + exposed DP/FSDP communication
         + optimizer step + per-step overhead

with m = global_batch / (micro_batch·dp) micro-batches per step and t_stage the forward,
backward and recomputation of l/pp layers (plus the output layer on the last stage) for one
micro-batch (Narayanan et al. 2021, §2.2 for the bubble; Korthikanti et al. 2022 for
selective recompute and sequence parallelism).

Data-parallel gradient sync is bucketed under the backward pass (PyTorch DDP, Li et al.
VLDB 2020; 25 MB buckets): exposed = what does not fit under the last micro-batch's backward
plus the last bucket. ZeRO-3/FSDP gathers each layer's weights before its forward and its
backward and reduce-scatters its gradients every micro-batch: `sharded.py`.
"""

from __future__ import annotations

import numpy as np

from raxlab.predict import context, moe
from raxlab.predict import memory as mem
from raxlab.predict import sharded
from raxlab.predict.collectives import group_time, p2p_time
from raxlab.predict.compute import ACT, head_cost, layer_cost, lora_params

DDP_BUCKET_BYTES = 25 * 2**20  # torch DDP bucket_cap_mb default (25 MiB)
ADAM_BYTES_FIXED = 26.0  # priors.yaml optimizer.bytes_per_param_fixed (+ gradient bytes)


def stage_layers(layers, pp, vpp=1.0):
    """(layers of the fullest stage, layers of the last stage). When pp (× vpp) does not divide
    the layers, frameworks fill every stage but the last with ceil(l / pp) layers and give the
    last, which also holds the output layer, the remainder (Megatron-Core's uneven pipeline
    split; Llama 3 405B: 126 layers on 16 stages, Dubey et al. 2024 §3.3.2, one fewer layer on
    the first and last stages). Each model chunk holds at least one layer."""
    chunk = np.ceil(layers / np.maximum(pp * vpp, 1.0))
    full = chunk * vpp
    last = np.maximum(layers - (pp - 1.0) * full, 1.0)
    return full, np.minimum(last, full)


def _stage_params(shape, la):
    """Parameters held by one GPU of the fullest stage: its layers and the embedding or output
    layer (the first and last stages hold one vocabulary table each when pp > 1)."""
    L, _ = stage_layers(shape.layers, la.pp, la.vpp)
    emb = np.where(la.pp > 1, shape.vocab * shape.hidden, shape.embedding_params)
    return (L * shape.layer_params + emb) / la.tp


def train_core(shape, la, hc, w_bytes: float = 2.0, workspace: float = 2.5e9, imbalance: float | None = None) -> dict:
    """Per-step terms (seconds), memory (bytes) and derived figures for every candidate.
    `imbalance`: MoE routing load factor (None: the prior of `moe.py`)."""
    # MoE and CP (moe.py, context.py): the core below runs the dense part on each CP rank's tokens
    full, shape = shape, shape.dense_view()
    given, la = la, context.as_data_parallel(la)
    m = la.gb / (la.mb * la.dp)
    L, L_last = stage_layers(shape.layers, la.pp, la.vpp)
    lc = layer_cost(shape, la, hc, w_bytes)
    head = head_cost(shape, la, hc, w_bytes)
    rec = np.where(la.recompute >= 2, lc.fwd, np.where(la.recompute >= 1, lc.attn_rec, 0.0))
    per_layer = lc.fwd + lc.bwd + rec
    # The slowest stage sets the pace: the fullest one, or the last with the output layer.
    last_is_critical = L_last * per_layer + head >= L * per_layer
    t_stage = np.where(last_is_critical, L_last * per_layer + head, L * per_layer)
    L = np.where(last_is_critical, L_last, L)  # layers on the critical stage
    head = np.where(last_is_critical, head, 0.0)
    terms = {
        "matmul": m * L * (lc.mm_f + lc.mm_b),
        "attention": m * L * (lc.attn_f + lc.attn_b),
        "elementwise": m * L * (lc.other_f + lc.other_b),
        "output_layer": m * head,
        "recompute": m * L * rec,
        "tp_comm": m * L * (lc.tp_f + lc.tp_b),
        "launch_overhead": m * L * 2 * lc.overhead,
        "bubble": (la.pp - 1) / la.vpp * t_stage,
        "pp_p2p": _pp_p2p(shape, la, hc, m),
    }
    params_gpu = _stage_params(shape, la)
    trainable = _trainable(shape, la, params_gpu)
    terms["dp_comm"] = _dp_exposed(la, hc, trainable, L * (lc.bwd + rec))
    terms["fsdp_comm"] = _fsdp_exposed(shape, la, hc, lc, head, m)
    shard = np.where(la.zero >= 1, la.dp, 1.0)
    terms["optimizer"] = trainable / shard * (ADAM_BYTES_FIXED + la.grad_bytes) / hc.mem_bw
    terms["step_overhead"] = hc.step_overhead + 0.0 * m
    memory = _memory(shape, la, params_gpu, m, w_bytes, workspace, hc.in_bytes, trainable)
    _experts_and_context(full, given, la, hc, lc, m, L, params_gpu, L * (lc.bwd + rec), imbalance, w_bytes, terms, memory)
    step = sum(terms.values())
    return {"terms": terms, "step_time_s": step, "memory": memory, "microbatches": m}


def _experts_and_context(full, given, la, hc, lc, m, L, params_gpu, bwd_window, imbalance, w_bytes, terms, memory):
    """Add the routed-expert terms and memory (moe.py) and the CP communication (context.py),
    with what one micro-batch of them adds to the pipeline bubble. `la` is the CP-as-DP view."""
    per_mb = 0.0 * m
    if np.any(np.asarray(given.cp) > 1):
        per_mb = context.per_microbatch(full, given, hc, lc, L)
        terms["cp_comm"] = context.cp_comm(full, given, hc, lc, m, L)
    if full.moe is not None:
        k = np.clip(hc.g / la.tp, 1.0, la.dp)
        dense_grad_s = group_time("all_reduce", params_gpu * la.grad_bytes, la.dp, k, hc)
        iota = moe.check_imbalance(imbalance)
        extra, moe_mb = moe.terms(full, given, hc, lc, m, L, iota, dense_grad_s, bwd_window)
        terms.update(extra)
        per_mb = per_mb + moe_mb
        L_first, _ = stage_layers(full.layers, la.pp, la.vpp)
        factor = L_first * la.pp / full.layers * mem.pipeline_activation_factor(la.pp, la.vpp, m)
        memory.update(moe.memory(full, given, m, L_first, w_bytes, iota, factor))
        memory["total"] = sum(v for k_, v in memory.items() if k_ != "total")
    terms["bubble"] = terms["bubble"] + (la.pp - 1) / la.vpp * per_mb


def _pp_p2p(shape, la, hc, m):
    """Activations forward and gradients backward at every stage boundary of the critical path;
    Megatron's scatter/gather (and SP) send 1/tp of the tensor per rank."""
    nbytes = la.mb * shape.seq * shape.hidden * ACT / la.tp
    inter = la.tp * la.dp >= hc.g  # stage neighbours are tp·dp ranks apart
    per = p2p_time(nbytes, inter, hc)
    return np.where(la.pp > 1, 2 * la.vpp * (m + la.pp - 1) * per, 0.0)


def _dp_exposed(la, hc, params_gpu, bwd_window):
    """Exposed DP gradient sync per step (zero: ZeRO-3 reduces gradients in `_fsdp_exposed`)."""
    zero3 = la.zero >= 3
    if np.all(zero3):  # skipped when no candidate needs it: the scalar path stays < 1 ms
        return 0.0 * la.dp
    k = np.clip(hc.g / la.tp, 1.0, la.dp)  # DP peers sharing a node (TP ranks are adjacent)
    grad = params_gpu * la.grad_bytes
    t_ar = group_time("all_reduce", grad, la.dp, k, hc)
    last = group_time("all_reduce", np.minimum(grad, DDP_BUCKET_BYTES), la.dp, k, hc)
    overlapped = np.maximum(t_ar - bwd_window, 0.0) + last
    return np.where(zero3, 0.0, np.where(la.overlap > 0, np.minimum(overlapped, t_ar), t_ar))


def _fsdp_exposed(shape, la, hc, lc, head, m):
    if not np.any(la.zero >= 3):
        return 0.0 * m
    return np.where(la.zero >= 3, sharded.zero3_exposed(shape, la, hc, lc, head, m), 0.0)


def _trainable(shape, la, params_gpu):
    """Parameters per GPU that get gradients and optimizer state: all, or under LoRA the
    adapters of the fullest stage's layers (embeddings and output layer frozen)."""
    L, _ = stage_layers(shape.layers, la.pp, la.vpp)
    return np.where(la.lora > 0, L * lora_params(shape, la.tp, la.lora), params_gpu)


def _memory(shape, la, params_gpu, m, w_bytes, workspace, in_bytes=2.0, trainable=None):
    """Bytes per GPU on the first stage (it holds the most activations under 1F1B). Unfused
    attention: Korthikanti's GPT formula (its recipes had dropout); fused kernels: the per-tensor
    count of `memory.fused_activation_bytes_per_layer`."""
    w, g, o = mem.model_state_bytes(params_gpu, la.dp, la.zero, w_bytes, la.grad_bytes, trainable=trainable)
    per_layer = np.where(la.attn > 0,
                         mem.fused_activation_bytes_per_layer(shape, shape.seq, la.mb, la.tp, la.sp, la.recompute,
                                                              in_bytes),
                         mem.activation_bytes_per_layer(shape.seq, la.mb, shape.hidden, shape.heads, la.tp,
                                                        la.sp, la.recompute, la.attn))
    L_first, _ = stage_layers(shape.layers, la.pp, la.vpp)
    act = per_layer * L_first * la.pp * mem.pipeline_activation_factor(la.pp, la.vpp, m)
    logits = np.where(la.pp > 1, 0.0, 4.0 * la.mb * shape.seq * shape.vocab / la.tp)
    gathered = np.where(la.zero >= 3, 2 * shape.layer_params / la.tp * w_bytes, 0.0)
    parts = {"weights": w, "gradients": g, "optimizer": o, "activations": act + logits,
             "fsdp_gathered": gathered, "workspace": workspace + 0.0 * w}
    parts["total"] = sum(parts.values())
    return parts
