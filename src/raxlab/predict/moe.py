"""Mixture-of-experts terms of a training step: routed-expert GEMMs, expert-parallel all-to-all,
expert gradient sync and optimizer, expert-sharded memory.

The dense core (`training.train_core`) projects the shape's `dense_view()`: attention, dense
MLPs, shared experts and routers. This module adds what the routed experts cost, per MoE block
and micro-batch on one GPU (T = tokens the GPU feeds into the block: mb·s/(cp·tp), the
sequence-parallel shard; Megatron-Core requires sequence parallelism with EP and TP):

- **expert GEMMs**: the GPU holds E/ep experts, each cut 1/etp by expert tensor parallelism, and
  receives the token copies of its EP×ETP group routed to them: n = ep·etp·T·k/E rows per expert
  on average, ι·n on the busiest GPU, which sets the pace (ι: routing imbalance, below). One
  grouped GEMM per projection (Megatron-Core --moe-grouped-gemm): gate+up (n × 2f/etp × h) and
  down (n × h × f/etp), forward, data and weight gradients, timed by the shape-dependent kernel
  model (`gemm.gemm_time`: tile/wave quantization, pipeline fill, memory bound), which is where
  small token counts per expert lose efficiency. Permute/unpermute and the SwiGLU are
  memory-bound: the token copies read and written twice (h each) and 3·f/etp per copy.
- **all-to-all** (GShard, Lepikhin et al. 2020; DESIGN.md "Second wave"): dispatch sends each of
  the T·k token copies (h values, 16 bit) to its expert's GPU and combine brings it back, forward
  and again backward: 4 all-to-alls of T·k·h·2 bytes per block and micro-batch (ι× on the busiest
  GPU), over the EP group (ranks etp apart: NVLink inside a node, the rails across nodes;
  `collectives.group_time("all_to_all")`, bisection-limited beyond a leaf). `ep_dispatch=
  "hierarchical"` (DeepEP; DeepSeek-V3 report §3.2.2): a token crosses the scale-out fabric once per
  remote node that holds one of its k experts — N·(1 − (1 − 1/N)^k)·(N − 1)/N copies per token in
  expectation over N nodes with uniform routing — and NVLink forwards it to the experts there, the
  two concurrent. In line by default
  (Megatron-Core's alltoall dispatcher); `moe_overlap` hides it under the compute of the other
  micro-batch in flight (Megatron-Core v0.14 --overlap-moe-expert-parallel-comm, DeepSeek-V3
  DualPipe), leaving what exceeds that compute.
- **expert tensor parallelism** (ETP > 1; Megatron-Core alltoall dispatcher): the routed token copies
  of the ETP group are all-gathered before the experts and their outputs reduce-scattered after
  (each rank computes its 1/etp slice for all of them), forward and again backward: 4 collectives
  over the ETP group per block and micro-batch of etp·T·k·h·2 bytes (k times the dense TP traffic
  of the block, which the dense part already counts), in line.
- **expert gradients** are all-reduced over the expert-data-parallel group (EDP = tp·cp·dp /
  (etp·ep), ranks etp·ep apart), bucketed under the backward like the dense gradients and in the
  window they leave; ZeRO shards expert states over EDP (ZeRO-3/FSDP with EP also gathers the
  expert weights every micro-batch, prefetched under the expert compute).

Routing imbalance ι (`data/moe.yaml`): the slowest EP rank sets every MoE block's pace, so its
load over the mean multiplies the expert compute and the all-to-all. The prior is per expert:
1.25, the expert capacity Switch Transformer provisions over a perfectly balanced load (Fedus et
al. 2022, JMLR 23(120), §2.2 and Table 1), override it with a measured value (`rax predict
--moe-imbalance`). A rank holds n = E/ep experts; the tokens its experts get are a share of a
fixed total, so the excess of their sum over its mean shrinks like a sample of n drawn without
replacement from E: by √((1 − n/E) / (n·(1 − 1/E))) (the finite-population correction). The
busiest rank carries 1 + (ι − 1)·√((1 − n/E) / (n·(1 − 1/E))) (estimate; exact at the ends: ι
with one expert per rank, 1 at EP 1, where every GPU runs every expert on its own tokens).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from raxlab.errors import RaxError
from raxlab.predict.collectives import group_time
from raxlab.predict.compute import ACT
from raxlab.predict.gemm import gemm_time

MOE_PRIORS = Path(__file__).parent / "data" / "moe.yaml"
DDP_BUCKET_BYTES = 25 * 2**20  # as training.py: torch DDP / Megatron bucket (25 MiB)
ADAM_BYTES_FIXED = 26.0  # as training.py: priors.yaml optimizer.bytes_per_param_fixed


@lru_cache(maxsize=1)
def _priors() -> dict:
    import yaml

    from raxlab.safe_yaml import PACKAGE_LOADER

    try:
        return yaml.load(MOE_PRIORS.read_text(), Loader=PACKAGE_LOADER)
    except (OSError, yaml.YAMLError) as e:
        raise RaxError(f"cannot read {MOE_PRIORS}: {e}", field="moe_priors") from e


def default_imbalance() -> float:
    node = _priors()["imbalance"]
    if not (node.get("source") or node.get("estimate")) or float(node["value"]) < 1.0:
        raise RaxError(f"{MOE_PRIORS}: imbalance needs a value >= 1 and its source", field="moe_priors")
    return float(node["value"])


def check_imbalance(value: float | None) -> float:
    if value is None:
        return default_imbalance()
    if not np.isfinite(value) or value < 1.0:
        raise RaxError(f"must be a load factor >= 1 (max / mean tokens per EP rank), got {value}",
                       field="moe_imbalance")
    return float(value)


def rank_imbalance(shape, la, imbalance):
    """Load of the busiest EP rank over the mean (see the module docstring)."""
    e = float(shape.moe.experts)
    n = e / la.ep  # experts per rank
    shrink = np.sqrt(np.maximum(1.0 - n / e, 0.0) / (n * max(1.0 - 1.0 / e, 1e-9))) if e > 1 else 0.0 * n
    return 1.0 + (imbalance - 1.0) * shrink


def _grouped(m, n, k, experts, hc):
    """One grouped GEMM: `experts` GEMMs of m×n×k in one kernel (Megatron-Core GroupedMLP)."""
    return gemm_time(m, n, k, batch=experts, peak=hc.peak, e_max=hc.eff_mm, k0=hc.gemm_k0, sms=hc.sms,
                     fixed_s=hc.gemm_fixed, mem_bw=hc.mem_bw, in_bytes=hc.in_bytes, out_bytes=ACT)


def tokens_per_gpu(shape, la):
    """Tokens one GPU feeds into an MoE block per micro-batch (sequence-parallel shard)."""
    return la.mb * shape.seq / (la.cp * la.tp)


def expert_block_cost(shape, la, hc, imbalance):
    """(forward, backward) seconds of the routed experts of one MoE block, one micro-batch."""
    m_, h = shape.moe, float(shape.hidden)
    etp, ep = la.expert_tp, la.ep
    local = m_.experts / ep
    rows = imbalance * ep * etp * tokens_per_gpu(shape, la) * m_.top_k / m_.experts
    up, f = (2.0 if m_.gated else 1.0) * m_.expert_ffn / etp, m_.expert_ffn / etp
    fwd = _grouped(rows, up, h, local, hc) + _grouped(rows, h, f, local, hc)
    bwd = (_grouped(rows, h, up, local, hc) + _grouped(up, h, rows, local, hc)
           + _grouped(rows, f, h, local, hc) + _grouped(h, f, rows, local, hc))
    copies = rows * local  # token copies on the busiest GPU
    elem = ACT * copies * (4.0 * h + 3.0 * f) / hc.mem_bw
    return fwd + elem, bwd + 2.0 * elem


def a2a_time(shape, la, hc, imbalance):
    """One all-to-all (dispatch or combine) of one MoE block and micro-batch on the busiest GPU."""
    copies = tokens_per_gpu(shape, la) * shape.moe.top_k
    nbytes = imbalance * copies * shape.hidden * ACT
    k = np.clip(hc.g / la.expert_tp, 1.0, la.ep)  # EP peers on one node (ETP ranks adjacent)
    flat = group_time("all_to_all", nbytes, la.ep, k, hc)
    hier = _hierarchical(shape, la, hc, imbalance, k) if np.any(la.ep_hier > 0) else flat
    nodes = np.ceil(la.ep / k)
    return np.where(la.ep > 1, np.where((la.ep_hier > 0) & (nodes > 1), hier, flat), 0.0)


def _hierarchical(shape, la, hc, imbalance, k):
    """DeepEP-style dispatch: one scale-out copy per token and remote node, NVLink forwarding there."""
    nodes = np.maximum(np.ceil(la.ep / k), 1.0)
    hit = nodes * (1.0 - (1.0 - 1.0 / nodes) ** shape.moe.top_k)  # distinct nodes of a token's experts
    token = imbalance * tokens_per_gpu(shape, la) * shape.hidden * ACT
    npl = np.asarray(hc.nodes_per_leaf, dtype=float)
    taper = np.where((npl > 0) & (nodes > npl), np.maximum(hc.oversub, 1.0), 1.0)
    t_inter = token * hit * (nodes - 1.0) / nodes * taper / np.maximum(hc.inter_bw, 1e-30)
    t_intra = token * shape.moe.top_k * (k - 1.0) / k / hc.intra_bw
    return hc.alpha_inter + np.maximum(t_inter, t_intra) + hc.base


def etp_time(shape, la, hc, imbalance):
    """Expert-TP all-gathers and reduce-scatters of one MoE block and micro-batch (fwd + bwd)."""
    etp = la.expert_tp
    gathered = imbalance * etp * tokens_per_gpu(shape, la) * shape.moe.top_k * shape.hidden * ACT
    k = np.minimum(etp, hc.g)  # ETP ranks are adjacent: one node unless etp exceeds it
    one = group_time("all_gather", gathered, etp, k, hc) + group_time("reduce_scatter", gathered, etp, k, hc)
    return np.where(etp > 1, 2.0 * one, 0.0)


def stage_moe_blocks(shape, layers_on_stage):
    """MoE blocks on the critical stage (the model's share: dense prefixes are spread evenly)."""
    return layers_on_stage * shape.moe.moe_layers / shape.layers


def expert_params_gpu(shape, la, layers_on_stage):
    """Routed-expert parameters one GPU holds on the critical stage."""
    return shape.expert_block_params * layers_on_stage / shape.layers / (la.ep * la.expert_tp)


def terms(shape, la, hc, lc, m, layers_on_stage, imbalance, dense_grad_s, bwd_window):
    """Named per-step terms (seconds) of the routed experts on the critical stage, and the seconds
    one micro-batch adds to the stage (for the pipeline bubble).

    `lc`: the dense part's LayerCost (its compute is the overlap window of `moe_overlap`);
    `dense_grad_s`: the dense gradient all-reduce's time and `bwd_window` the backward it hides
    under (the expert gradients get what the dense ones leave)."""
    n = stage_moe_blocks(shape, layers_on_stage)
    iota = rank_imbalance(shape, la, imbalance)
    t_f, t_b = expert_block_cost(shape, la, hc, iota)
    rec = np.where(la.recompute >= 2, t_f, 0.0)
    one = a2a_time(shape, la, hc, iota)
    a2a = 4.0 * one + np.where(la.recompute >= 2, 2.0 * one, 0.0)  # full recompute repeats the forward's two
    window = lc.fwd + lc.bwd + t_f + t_b
    exposed = np.where(la.moe_overlap > 0, np.maximum(a2a - window, 0.0), a2a)
    etp = etp_time(shape, la, hc, iota) * np.where(la.recompute >= 2, 1.5, 1.0)
    per_mb = n * (t_f + t_b + rec + exposed + etp)
    out = {"expert_compute": m * n * (t_f + t_b), "expert_recompute": m * n * rec,
           "ep_all_to_all": m * n * exposed, "etp_comm": m * n * etp}
    params = expert_params_gpu(shape, la, layers_on_stage)
    out["expert_dp_comm"] = _expert_grad_sync(la, hc, params, n * (t_b + rec), dense_grad_s, bwd_window, m)
    shard = np.where(la.zero >= 1, la.edp, 1.0)
    out["expert_optimizer"] = params / shard * (ADAM_BYTES_FIXED + la.grad_bytes) / hc.mem_bw
    return out, per_mb


def _expert_grad_sync(la, hc, params, expert_bwd, dense_grad_s, bwd_window, m):
    """Exposed expert-gradient all-reduce over EDP (ZeRO-3: per-micro-batch gathers and
    reduce-scatters of the expert shards, prefetched under the expert compute)."""
    edp = la.edp
    k = np.clip(hc.g / (la.expert_tp * la.ep), 1.0, edp)  # EDP peers on one node
    grad = params * la.grad_bytes
    t_ar = group_time("all_reduce", grad, edp, k, hc)
    last = group_time("all_reduce", np.minimum(grad, DDP_BUCKET_BYTES), edp, k, hc)
    left = np.maximum(bwd_window + expert_bwd - dense_grad_s, 0.0)
    ddp = np.where(la.overlap > 0, np.minimum(np.maximum(t_ar - left, 0.0) + last, t_ar), t_ar)
    ag = group_time("all_gather", params * la.gather_bytes, edp, k, hc)
    rs = group_time("reduce_scatter", params * la.grad_bytes, edp, k, hc)
    fsdp = m * np.maximum(2.0 * ag + rs - expert_bwd, 0.0)
    return np.where(edp > 1, np.where(la.zero >= 3, fsdp, ddp), 0.0)


def memory(shape, la, m, layers_on_stage, w_bytes, imbalance, pipeline_factor):
    """Bytes per GPU of the routed experts: weights, gradients and Adam states (sharded over EDP by
    ZeRO), and the activations the MoE blocks store for backward (dispatched copies, gate/up
    outputs and the SwiGLU output per copy; only the block input under full recompute, which the
    dense part already counts)."""
    p = expert_params_gpu(shape, la, layers_on_stage)
    edp = la.edp
    w = p * w_bytes / np.where(la.zero >= 3, edp, 1.0)
    g = p * la.grad_bytes / np.where(la.zero >= 2, edp, 1.0)
    o = p * 12.0 / np.where(la.zero >= 1, edp, 1.0)
    m_ = shape.moe
    copies = rank_imbalance(shape, la, imbalance) * tokens_per_gpu(shape, la) * m_.top_k
    per_block = ACT * copies * (shape.hidden + 3.0 * m_.expert_ffn / la.expert_tp)
    act = np.where(la.recompute >= 2, 0.0, per_block * shape.moe.moe_layers * pipeline_factor)
    return {"expert_weights": w, "expert_gradients": g, "expert_optimizer": o, "expert_activations": act}
