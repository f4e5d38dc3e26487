"""Context parallelism (CP): each sequence split over `cp` GPUs, attention across the pieces.

**Compute and memory.** A CP rank holds mb·s/cp tokens of each of its micro-batch's sequences:
every GEMM, element-wise kernel, TP collective, stored activation and pipeline message is
1/cp of the unsplit one; its queries still attend to the whole (causal) sequence, so its
attention core is 1/cp of the whole — with causal masking only when the sequence is cut into
2·cp chunks and rank i takes chunks i and 2·cp−1−i (load balancing; Megatron-Core / Transformer
Engine context parallelism, Liu et al. 2023 "Ring Attention" for the ring itself). That is the
arithmetic of a data-parallel group cp times wider running a micro-batch of mb/cp sequences
(same tokens per GPU, same attention FLOPs per GPU: 4·(mb/cp)·s²·q_dim), whose ranks also share
the weights: gradients are reduced and ZeRO/distributed-optimizer states sharded over DP·CP, as
Megatron-Core does ("CP: optimizer 1/N with distributed optimizer", Megatron-LM MoE README,
parallel-mapping table). `as_data_parallel` returns that view of the layout, and the dense core
(`training.train_core`) runs on it unchanged.

**Communication** (`cp_comm`), per layer and micro-batch, K and V of one CP chunk:
    chunk = 2 · (mb·s/cp) · kv_heads/tp · head_dim · 2 bytes      (K and V, 16 bit; DESIGN.md)
- ``ring`` (Megatron-Core cp_comm_type "p2p"): cp−1 steps; each passes the held K/V chunk to the
  next rank while attention runs on the current one, so a step exposes max(0, t_send − t_attn/cp).
  Backward passes K/V and their gradients (2 × chunk) per step, hidden under the backward attention
  the same way. Ranks are adjacent after TP (tp-cp-dp-pp): the ring crosses nodes when tp·cp > g,
  and then every step waits for its slowest (scale-out) hop.
- ``all_gather`` (Llama 3, Dubey et al. 2024, §3.3.2): K and V of all chunks gathered before the
  attention (exposed; cheap under GQA), their gradients reduce-scattered after the backward.
Full recomputation repeats the forward's communication.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from raxlab.predict.collectives import group_time, p2p_time
from raxlab.predict.compute import ACT


def as_data_parallel(la):
    """The layout as the dense core sees it: mb/cp sequences per micro-batch, DP group × cp."""
    if np.all(np.asarray(la.cp) == 1):
        return la
    return replace(la, mb=la.mb / la.cp, dp=la.dp * la.cp)


def kv_chunk_bytes(shape, la):
    """K and V of one CP rank's tokens of a micro-batch, per GPU (KV heads split over TP,
    replicated when tp exceeds them; MLA exchanges the up-projected K and V of every head)."""
    per_gpu_kv = np.maximum(shape.kv / la.tp, 1.0)
    return 2.0 * (la.mb * shape.seq / la.cp) * per_gpu_kv * shape.head_dim * ACT


def cp_comm(shape, la, hc, lc, m, layers):
    """Exposed CP communication per step on the critical stage (seconds). `la`: the layout as
    given (not `as_data_parallel`); `lc`: the per-rank LayerCost; `layers`: layers on the stage."""
    cp = np.asarray(la.cp, dtype=float)
    if np.all(cp == 1):
        return 0.0 * m
    chunk = kv_chunk_bytes(shape, la)
    steps = cp - 1.0
    inter = la.tp * cp > hc.g
    ring_f = steps * np.maximum(p2p_time(chunk, inter, hc) - lc.attn_f / cp, 0.0)
    ring_b = steps * np.maximum(p2p_time(2.0 * chunk, inter, hc) - lc.attn_b / cp, 0.0)
    k = np.clip(hc.g / la.tp, 1.0, cp)  # CP peers on one node (TP ranks are adjacent)
    ag_f = group_time("all_gather", cp * chunk, cp, k, hc)
    ag_b = group_time("reduce_scatter", cp * chunk, cp, k, hc)
    fwd = np.where(la.cp_ag > 0, ag_f, ring_f)
    bwd = np.where(la.cp_ag > 0, ag_b, ring_b)
    per_layer = fwd + bwd + np.where(la.recompute >= 2, fwd, 0.0)
    return np.where(cp > 1, m * layers * per_layer, 0.0)


def per_microbatch(shape, la, hc, lc, layers):
    """Exposed CP seconds of one micro-batch on the stage (for the pipeline bubble)."""
    return cp_comm(shape, la, hc, lc, 1.0, layers)
