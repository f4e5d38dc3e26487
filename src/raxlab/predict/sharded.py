"""ZeRO-3 / FSDP: the weight gathers and gradient reduce-scatters of a step, and what of them is exposed.

**Volume.** ZeRO-3 moves 3Ψ per GPU per step where plain data parallelism moves 2Ψ
(Rajbhandari et al., "ZeRO", SC20, §7.2.2): an all-gather of each unit's weights before its
forward, a second before its backward (they are freed in between), and a reduce-scatter of its
gradients. Weights are freed after every use and gradients are reduced as they are produced, so
with gradient accumulation all three happen for *every micro-batch*: m·3Ψ per step. This is why
ZeRO-3 throughput collapses when GPUs are added at a fixed global batch (Megatron SC21 Table 2,
175B at 1536 GPUs with micro-batch 1): the traffic per GPU per step stays, the compute shrinks.

**Two ways to run it** (`Layout.zero3_gather`):

- ``prefetch`` (default): PyTorch FSDP (one FlatParameter per wrapped layer, backward prefetch;
  Zhao et al., "PyTorch FSDP", VLDB 2023, §3.3-3.4) and DeepSpeed ZeRO-3 since its coalesced
  asynchronous gathers (DeepSpeed PR #1188, 2021). One NCCL collective per layer over the data-
  parallel group; NCCL's ring crosses each node boundary once per channel, so the node's GPUs
  share all its rails (`collectives.group_time`). The next layer's gather runs while this layer
  computes; in the backward the previous layer's re-gather and this layer's reduce-scatter run
  under this layer's backward. Per layer, exposed = max(gather − forward, 0) in the forward and
  max(gather + reduce-scatter − backward, 0) in the backward, plus the first gather, which
  nothing hides. Contention of overlapped collectives with compute (SMs, HBM) is not modelled.
- ``blocking``: DeepSpeed ZeRO-3 as released in spring 2021 (v0.3.13-0.3.16, the version of
  Megatron SC21's comparison). Every parameter is gathered by its own all-gather, which first
  synchronises the device ("the async version is not async at all, because each all_gather calls
  torch.cuda.synchronize()", DeepSpeed PR #1188); that also drains the gradient-reduction
  stream, so nothing overlaps with compute. Each weight matrix pays a ring latency; biases and
  norms stay whole (stage3_param_persistence_threshold, 1e5 elements, DeepSpeed config docs).
  Bandwidth is the GPU's own share of its node's rails: each GPU's whole shard traffic crosses
  its NIC, as in the DeepSpeed authors' model of ZeRO-3 (ZeRO-Infinity, Rajbhandari et al. SC21,
  §4: efficiency = ait·bw / (ait·bw + peak) with bw per GPU, i.e. communication not hidden).
  An assumption taken from that model, not derived from NCCL: NCCL-ring FSDP runs exceed it
  (MosaicML MPT-70b on 32 A100s moved 3Ψ per micro-batch faster than 32 NIC shares allow).

All functions broadcast over numpy arrays of candidates.
"""

from __future__ import annotations

import numpy as np

from raxlab.predict.collectives import group_time, per_gpu_time

# DeepSpeed stage3_param_persistence_threshold default: parameters under 1e5 elements are not
# partitioned, so only weight matrices are gathered (DeepSpeed config-json docs, ZeRO section).
PERSISTENCE_THRESHOLD = 1e5


def weight_matrices(shape) -> float:
    """Separately gathered weight tensors of one block: QKV, output projection and the MLP's two
    (three when gated) matrices (Megatron fuses QKV; biases and norms stay whole)."""
    return 5.0 if shape.gated_mlp else 4.0


def zero3_exposed(shape, la, hc, lc, head_t, m):
    """Exposed ZeRO-3/FSDP seconds per step of a transformer (lc: compute.LayerCost per micro-batch,
    head_t: output-layer seconds per micro-batch, m: micro-batches per step)."""
    k = np.clip(hc.g / la.tp, 1.0, la.dp)  # DP peers sharing a node (TP ranks are adjacent)
    layer_w, head_w = shape.layer_params / la.tp, shape.embedding_params / la.tp
    rec = np.where(la.recompute >= 2, lc.fwd, np.where(la.recompute >= 1, lc.attn_rec, 0.0))
    pre = la.prefetch > 0
    # each branch only where some candidate needs it: the scalar path stays < 1 ms
    prefetch = _prefetched(la, hc, k, layer_w, head_w, shape.layers, lc.fwd, lc.bwd + rec, head_t) \
        if np.any(pre) else 0.0
    blocking = _blocking(la, hc, k, layer_w, head_w, shape.layers, weight_matrices(shape)) \
        if not np.all(pre) else 0.0
    return m * np.where(pre, prefetch, blocking)


def _prefetched(la, hc, k, layer_w, head_w, layers, t_fwd, t_bwd, head_t):
    """Per micro-batch: one gather/reduce-scatter per layer, each hidden under the neighbour's compute."""
    ag = group_time("all_gather", layer_w * la.gather_bytes, la.dp, k, hc)
    rs = group_time("reduce_scatter", layer_w * la.grad_bytes, la.dp, k, hc)
    head = (2 * group_time("all_gather", head_w * la.gather_bytes, la.dp, k, hc)
            + group_time("reduce_scatter", head_w * la.grad_bytes, la.dp, k, hc))
    per_layer = np.maximum(ag - t_fwd, 0.0) + np.maximum(ag + rs - t_bwd, 0.0)
    return ag + layers * per_layer + np.maximum(head - head_t, 0.0)


def _blocking(la, hc, k, layer_w, head_w, layers, matrices):
    """Per micro-batch: every weight matrix gathered twice and every layer's gradients reduced, in series."""
    ag = matrices * per_gpu_time("all_gather", layer_w / matrices * la.gather_bytes, la.dp, k, hc)
    rs = per_gpu_time("reduce_scatter", layer_w * la.grad_bytes, la.dp, k, hc)
    head = (2 * per_gpu_time("all_gather", head_w * la.gather_bytes, la.dp, k, hc)
            + per_gpu_time("reduce_scatter", head_w * la.grad_bytes, la.dp, k, hc))
    return layers * (2 * ag + rs) + head


def generic_exposed(params, la, hc, t_fwd, t_bwd, m):
    """The same for a model without a layer structure (generic card): the whole model is one unit,
    its gathers and reduce-scatter hidden, when prefetched, only under the micro-batch's compute."""
    k = np.clip(hc.g, 1.0, la.dp)
    ag = group_time("all_gather", params * la.gather_bytes, la.dp, k, hc)
    rs = group_time("reduce_scatter", params * la.grad_bytes, la.dp, k, hc)
    prefetch = np.maximum(2 * ag + rs - (t_fwd + t_bwd), 0.0)
    blocking = (2 * per_gpu_time("all_gather", params * la.gather_bytes, la.dp, k, hc)
                + per_gpu_time("reduce_scatter", params * la.grad_bytes, la.dp, k, hc))
    return m * np.where(la.prefetch > 0, prefetch, blocking)
