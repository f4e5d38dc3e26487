"""Per-layer time of a transformer block on one GPU: a roofline per op class.

Each op class takes max(FLOPs / (peak × efficiency), bytes / achievable memory bandwidth)
(Williams et al., "Roofline", CACM 2009). Classes:

- **matmul**: the dense GEMMs (QKV, output projection, MLP), split over TP ranks. Backward is
  2× the forward FLOPs (gradients w.r.t. inputs and weights).
- **attention** core (Q·Kᵀ, softmax, A·V). *flash*: one fused kernel; a causal mask halves
  the executed FLOPs (a little more: whole diagonal tiles) and the backward costs 2.5× the forward (it recomputes S and P: five
  GEMMs against two; Dao 2023, FlashAttention-2, and its benchmark script's 3.5× fwd+bwd
  count). *unfused* (Megatron 2021): batched GEMMs over the full s×s square plus the
  scale-mask-softmax and dropout kernels that read and write the score tensor.
- **other**: element-wise kernels (layer norms, bias-GeLU, bias-dropout-add), memory-bound.
  Without sequence parallelism the hidden-sized ones are replicated on every TP rank
  (Korthikanti et al. 2022, §4.2.2); with it they are split.

Byte counts per element are spelled out below so they can be checked; activations are
16-bit. Everything broadcasts over numpy arrays of candidates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from raxlab.predict.collectives import group_time

ACT = 2.0  # bytes per activation element (bf16/fp16; fp8 recipes keep activations in 16 bit)

# Element-wise traffic per token and hidden unit, forward, bytes: LN1 read+write (4),
# bias-dropout-add after attention: read x and residual, write out, 1-byte mask (7),
# LN2 (4), bias-dropout-add after the MLP (7).
OTHER_HIDDEN_FWD = 22.0
# Per token and FFN unit: bias+GeLU read+write (4); a gated MLP reads two inputs (6).
OTHER_FFN_FWD = 4.0
OTHER_FFN_FWD_GATED = 6.0
OTHER_BWD_RATIO = 2.0  # backward reads the saved input and the incoming gradient, writes one

# Unfused attention, bytes per element of the b×heads×s×s score tensor. Forward: Q·Kᵀ writes
# scores (2), fused scale-mask-softmax reads+writes (4), dropout reads, writes, stores a
# 1-byte mask (5), A·V reads the probabilities (2) = 13. Backward: dropout (5), softmax (6),
# the two GEMMs read/write the s×s gradients (8) = 19.
SCORE_FWD = 13.0
SCORE_BWD = 19.0

# Causal flash kernels skip the tiles above the diagonal and compute the diagonal ones whole,
# masking inside (Dao 2023, FlashAttention-2, §3.1.1): of n = s/B tile rows they run n(n+1)/2 of
# n² tiles, a fraction (1 + B/s)/2 of the square. B = 128 query rows per tile (FA2 §3.3: tiles of
# {64, 128} × {64, 128}; 128 rows on A100/H100 for head dims 64-128).
FLASH_BLOCK = 128.0
FLASH_BWD = 2.5  # FlashAttention-2 backward FLOPs ÷ forward

# Vocabulary-parallel cross-entropy in fp32 (Megatron casts logits to float): write logits,
# read+cast, softmax read/write, gradient write: about 16 bytes per logit, forward+backward.
CE_BYTES = 16.0


@dataclass
class LayerCost:
    """Seconds for one layer on one micro-batch (arrays broadcast over candidates)."""

    mm_f: object
    mm_b: object
    attn_f: object
    attn_b: object
    attn_rec: object  # extra forward attention work under selective recompute (unfused only)
    other_f: object
    other_b: object
    tp_f: object  # TP collectives of one forward pass (exposed: Megatron runs them in line)
    tp_b: object
    overhead: object  # launch/framework time per pass

    @property
    def fwd(self):
        return self.mm_f + self.attn_f + self.other_f + self.tp_f + self.overhead

    @property
    def bwd(self):
        return self.mm_b + self.attn_b + self.other_b + self.tp_b + self.overhead


def roofline(flops, nbytes, peak_eff, bw):
    return np.maximum(flops / peak_eff, nbytes / bw)


def layer_cost(shape, la, hc, w_bytes: float = 2.0) -> LayerCost:
    """Time of one transformer block per micro-batch on the candidate (shape: TransformerShape,
    la: LayoutArrays, hc: HwConsts)."""
    t, T = la.tp, la.mb * shape.seq
    h, f = float(shape.hidden), float(shape.ffn)
    mm_flops = T * 2.0 * shape.layer_params / t
    mm_bytes = shape.layer_params / t * w_bytes + ACT * T * (4 * h + (h + 2 * shape.kv_dim) / t + 2 * f / t)
    mm_f = roofline(mm_flops, mm_bytes, hc.peak * hc.eff_mm, hc.mem_bw)
    attn_f, attn_b, attn_rec = _attention(shape, la, hc)
    ffn_b = OTHER_FFN_FWD_GATED if shape.gated_mlp else OTHER_FFN_FWD
    other_f = T * (OTHER_HIDDEN_FWD * h / np.where(la.sp > 0, t, 1.0) + ffn_b * f / t) / hc.mem_bw
    tp_one = group_time("all_reduce", T * h * ACT, t, t, hc)  # SP's AG+RS moves the same bytes
    return LayerCost(mm_f=mm_f, mm_b=2.0 * mm_f, attn_f=attn_f, attn_b=attn_b, attn_rec=attn_rec,
                     other_f=other_f, other_b=OTHER_BWD_RATIO * other_f, tp_f=2 * tp_one, tp_b=2 * tp_one,
                     overhead=hc.layer_overhead)


def _attention(shape, la, hc):
    """(forward, backward, selective-recompute) seconds of the attention core."""
    t, b, s, h = la.tp, la.mb, float(shape.seq), float(shape.hidden)
    full_fwd = 4.0 * b * s * s * h / t  # Q·Kᵀ and A·V over the full square
    heads = shape.heads / t
    # flash: compute-bound fused kernel; its only traffic is Q, K, V, O (and their gradients).
    qkvo = ACT * b * s * (2 * h + 2 * shape.kv_dim) / t
    eff = np.where(la.attn >= 2, hc.eff_attn1, hc.eff_attn) * hc.peak_bf16
    causal = 0.5 * (1.0 + np.minimum(FLASH_BLOCK / s, 1.0))
    fl_f = roofline(causal * full_fwd, qkvo, eff, hc.mem_bw)
    fl_b = roofline(causal * FLASH_BWD * full_fwd, 2 * qkvo, eff, hc.mem_bw)
    # unfused: batched GEMMs at matmul efficiency plus the score-tensor kernels.
    scores = b * heads * s * s
    un_f = full_fwd / (hc.peak_bf16 * hc.eff_mm) + SCORE_FWD * scores / hc.mem_bw
    un_b = 2 * full_fwd / (hc.peak_bf16 * hc.eff_mm) + SCORE_BWD * scores / hc.mem_bw
    flash = la.attn > 0
    rec = np.where(flash, 0.0, un_f)  # flash already recomputes S in its backward
    return np.where(flash, fl_f, un_f), np.where(flash, fl_b, un_b), rec


def head_cost(shape, la, hc, w_bytes: float = 2.0):
    """Output projection, cross-entropy and their TP collectives per micro-batch (last stage)."""
    t, T = la.tp, la.mb * shape.seq
    flops = 2.0 * T * shape.hidden * shape.vocab / t
    nbytes = shape.vocab * shape.hidden / t * w_bytes + ACT * T * (shape.hidden + shape.vocab / t)
    fwd = roofline(flops, nbytes, hc.peak * hc.eff_mm, hc.mem_bw)
    ce = CE_BYTES * T * shape.vocab / t / hc.mem_bw
    tp = 2 * group_time("all_reduce", T * shape.hidden * ACT, t, t, hc)
    return 3.0 * fwd + ce + tp
