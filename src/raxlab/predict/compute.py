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
from raxlab.predict.gemm import attention_efficiency, gemm_time

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


# fp8 recipes (Transformer Engine, delayed or current scaling): a GEMM input in fp8 needs an
# fp8 copy and, because Hopper's tensor cores take fp8 only in "TN" layout, a transposed fp8
# copy for the backward GEMM, made by one cast-transpose pass that reads 16 bit and writes both
# (TE docs "Using FP8 with Transformer Engine"; amax fused in the same pass): 2 + 1 + 1 bytes
# per element. TE fuses the cast into the producer where there is one (LayerNormLinear,
# LayerNormMLP: LayerNorm → QKV / FC1 and activation → FC2 write fp8 directly), so forward only
# the attention output (→ output projection) pays it; backward every linear layer's output
# gradient does (cast-transpose, fused with the bias gradient). Weights are cast once per
# optimizer step (cached across micro-batches): not counted.
FP8_CAST_BYTES = 4.0


def _gemm(m, n, k, hc, batch=1.0, sixteen=False):
    """One GEMM on the candidate: the training dtype's GEMM, or the 16-bit one (`sixteen`)."""
    if sixteen:
        return gemm_time(m, n, k, batch=batch, peak=hc.peak_bf16, e_max=hc.eff_mm16, k0=hc.gemm16_k0, sms=hc.sms,
                         fixed_s=hc.gemm16_fixed, mem_bw=hc.mem_bw, in_bytes=ACT, out_bytes=ACT)
    return gemm_time(m, n, k, batch=batch, peak=hc.peak, e_max=hc.eff_mm, k0=hc.gemm_k0, sms=hc.sms,
                     fixed_s=hc.gemm_fixed, mem_bw=hc.mem_bw, in_bytes=hc.in_bytes, out_bytes=ACT)


def layer_gemms(shape, t):
    """(N, K) of the block's four GEMMs on one TP rank, for M = tokens: QKV (column parallel),
    output projection (row parallel), MLP up (gate and up fused when gated), MLP down."""
    h, f = float(shape.hidden), float(shape.ffn)
    up = (2.0 if shape.gated_mlp else 1.0) * f
    return [((shape.q_dim + 2 * shape.kv_dim) / t, h), (h, shape.q_dim / t), (up / t, h), (h, f / t)]


def linear_time(T, n, k, hc, lora=0.0):
    """Forward and backward seconds of one linear layer y = x·Wᵀ (x: T×k, W: n×k): forward
    GEMM; backward data gradient (T×k from T×n and n×k) and weight gradient (n×k, reduced over T).
    LoRA rank r > 0 (Hu et al. 2021, y = x·Wᵀ + (x·A)·B with A: k×r, B: r×n, W frozen): no weight
    gradient for W; the adapter runs two thin GEMMs forward and four backward (data and weight
    gradients of A and B), in 16 bit (adapters are not cast to fp8)."""
    fwd = _gemm(T, n, k, hc)
    dgrad = _gemm(T, k, n, hc)
    bwd = dgrad + _gemm(n, k, T, hc)
    if not np.any(np.asarray(lora) > 0):  # no LoRA candidate: skip the adapter GEMMs (planner speed)
        return fwd, bwd
    r = np.maximum(lora, 1.0)
    a_fwd = _gemm(T, r, k, hc, sixteen=True) + _gemm(T, n, r, hc, sixteen=True)
    a_bwd = (_gemm(T, r, n, hc, sixteen=True) + _gemm(r, n, T, hc, sixteen=True)
             + _gemm(T, k, r, hc, sixteen=True) + _gemm(k, r, T, hc, sixteen=True))
    peft = lora > 0
    return np.where(peft, fwd + a_fwd, fwd), np.where(peft, dgrad + a_bwd, bwd)


def lora_params(shape, t, r):
    """Adapter parameters of one block on one TP rank (r·(n + k) per linear layer)."""
    return sum(r * (n + k) for n, k in layer_gemms(shape, t))


def layer_cost(shape, la, hc, w_bytes: float = 2.0) -> LayerCost:
    """Time of one transformer block per micro-batch on the candidate (shape: TransformerShape,
    la: LayoutArrays, hc: HwConsts)."""
    t, T = la.tp, la.mb * shape.seq
    h, f = float(shape.hidden), float(shape.ffn)
    mm_f = mm_b = 0.0
    gemms = layer_gemms(shape, t)
    row_parallel_f = 0.0  # output projection and MLP down: their reduce-scatter overlaps them
    for i, (n, k) in enumerate(gemms):
        fwd, bwd = linear_time(T, n, k, hc, la.lora)
        mm_f, mm_b = mm_f + fwd, mm_b + bwd
        row_parallel_f = row_parallel_f + (fwd if i in (1, 3) else 0.0)
    fp8 = hc.in_bytes < 2.0
    mm_f = mm_f + np.where(fp8, FP8_CAST_BYTES * T * gemms[1][1] / hc.mem_bw, 0.0)
    mm_b = mm_b + np.where(fp8, FP8_CAST_BYTES * T * sum(n for n, _ in gemms) / hc.mem_bw, 0.0)
    attn_f, attn_b, attn_rec = _attention(shape, la, hc)
    ffn_b = OTHER_FFN_FWD_GATED if shape.gated_mlp else OTHER_FFN_FWD
    other_f = T * (OTHER_HIDDEN_FWD * h / np.where(la.sp > 0, t, 1.0) + ffn_b * f / t) / hc.mem_bw
    # SP's AG+RS moves the same bytes; TP wider than a node crosses the scale-out fabric
    tp_one = group_time("all_reduce", T * h * ACT, t, np.minimum(t, hc.g), hc)
    # Overlapped TP (userbuffers) takes SMs from the GEMMs: forward, the row-parallel GEMMs run
    # beside their pipelined reduce-scatter on sms − TP_OVERLAP_SMS_FWD SMs (set_sm_margin);
    # backward, the bulk all-gathers / reduce-scatters run beside the GEMMs on TP_OVERLAP_SMS_BWD.
    # No SM count (a family without kernel evidence): the Hopper share of SMs (132) stands in.
    sms = np.where(hc.sms > 0, hc.sms, 132.0)
    sm_f = row_parallel_f * TP_OVERLAP_SMS_FWD / (sms - TP_OVERLAP_SMS_FWD)
    tp_f = _tp_exposed(2 * tp_one, mm_f, la, sm_f)
    tp_b = _tp_exposed(2 * tp_one, mm_b, la, np.minimum(2 * tp_one, mm_b) * TP_OVERLAP_SMS_BWD / sms)
    return LayerCost(mm_f=mm_f, mm_b=mm_b, attn_f=attn_f, attn_b=attn_b, attn_rec=attn_rec,
                     other_f=other_f, other_b=OTHER_BWD_RATIO * other_f, tp_f=tp_f, tp_b=tp_b,
                     overhead=hc.layer_overhead)


# SMs the overlapped TP collectives occupy (NVIDIA NeMo recipes/tp_overlap_configs/userbuffers.py,
# the H100 configs for Llama 3 70B, GPT-3 175B and GPT-3 20B): forward, the row-parallel GEMMs'
# reduce-scatters use the "pipeline" method with num_sm 16-24 (mean of proj_fprop and fc2_fprop
# across those configs: 20) reserved from the GEMM; backward, "bulk" overlaps use num_sm 2-24
# concurrently (mean over the four backward entries: 8).
TP_OVERLAP_SMS_FWD = 20.0
TP_OVERLAP_SMS_BWD = 8.0


def _tp_exposed(comm, gemms, la, sm_cost):
    """TP collective time left on the critical path. In line (default) all of it; overlapped
    (`tp_overlap`: userbuffers splits each all-gather / reduce-scatter into tp chunks exchanged
    while the GEMM works on the previous one, NVIDIA Transformer Engine / Megatron-Core
    --tp-comm-overlap) the first chunk, what the pass's GEMMs cannot cover, and the GEMM time lost
    to the SMs the collectives occupy (`sm_cost`)."""
    t = np.maximum(la.tp, 1.0)
    overlapped = comm / t + np.maximum(comm * (t - 1.0) / t - gemms, 0.0) + sm_cost
    return np.where((la.tpo > 0) & (la.tp > 1), overlapped, comm)


def attention_eff(la, hc, s, pass_: str):
    """Fraction of the 16-bit peak of the fused kernel in use (codes: 1 flash, 2 flash1, 3 fused)."""
    tag = "f" if pass_ == "fwd" else "b"
    flash = attention_efficiency(s, getattr(hc, f"fl_{tag}_inf"), getattr(hc, f"fl_{tag}_s0"))
    fused = attention_efficiency(s, getattr(hc, f"fu_{tag}_inf"), getattr(hc, f"fu_{tag}_s0"))
    flash1 = flash * hc.eff_attn1 / np.maximum(hc.eff_attn, 1e-9)
    return np.where(la.attn >= 3, fused, np.where(la.attn >= 2, flash1, flash))


def _attention(shape, la, hc):
    """(forward, backward, selective-recompute) seconds of the attention core."""
    t, b, s = la.tp, la.mb, float(shape.seq)
    full_fwd = 4.0 * b * s * s * shape.q_dim / t  # Q·Kᵀ and A·V over the full square
    heads = shape.heads / t
    # flash: compute-bound fused kernel; its only traffic is Q, K, V, O (and their gradients).
    qkvo = ACT * b * s * (2 * shape.q_dim + 2 * shape.kv_dim) / t
    causal = 0.5 * (1.0 + np.minimum(FLASH_BLOCK / s, 1.0))
    fl_f = roofline(causal * full_fwd, qkvo, attention_eff(la, hc, s, "fwd") * hc.peak_bf16, hc.mem_bw)
    fl_b = roofline(causal * FLASH_BWD * full_fwd, 2 * qkvo, attention_eff(la, hc, s, "bwd") * hc.peak_bf16,
                    hc.mem_bw)
    if np.all(np.asarray(la.attn) > 0):  # no unfused candidate: skip its GEMMs (planner speed)
        return fl_f, fl_b, 0.0 * fl_f
    # unfused: batched GEMMs (b·heads of s×s×head_dim and s×head_dim×s) plus the score kernels.
    scores = b * heads * s * s
    hd, bh = float(shape.head_dim), b * heads
    qk = _gemm(s, s, hd, hc, batch=bh, sixteen=True)
    av = _gemm(s, hd, s, hc, batch=bh, sixteen=True)
    un_f = qk + av + SCORE_FWD * scores / hc.mem_bw
    un_b = (_gemm(s, hd, s, hc, batch=bh, sixteen=True) + _gemm(hd, s, s, hc, batch=bh, sixteen=True)
            + _gemm(s, s, hd, hc, batch=bh, sixteen=True) + _gemm(s, hd, s, hc, batch=bh, sixteen=True)
            + SCORE_BWD * scores / hc.mem_bw)
    flash = la.attn > 0
    rec = np.where(flash, 0.0, un_f)  # flash already recomputes S in its backward
    return np.where(flash, fl_f, un_f), np.where(flash, fl_b, un_b), rec


def head_cost(shape, la, hc, w_bytes: float = 2.0):
    """Output projection, cross-entropy and their TP collectives per micro-batch (last stage).
    The output layer stays in 16 bit under fp8 recipes (Transformer Engine keeps the LM head
    and embeddings in higher precision)."""
    t, T = la.tp, la.mb * shape.seq
    v = shape.vocab / t
    fwd = _gemm(T, v, shape.hidden, hc, sixteen=True)
    wgrad = np.where(la.lora > 0, 0.0, _gemm(v, shape.hidden, T, hc, sixteen=True))  # frozen under LoRA
    bwd = _gemm(T, shape.hidden, v, hc, sixteen=True) + wgrad
    ce = CE_BYTES * T * shape.vocab / t / hc.mem_bw
    tp = 2 * group_time("all_reduce", T * shape.hidden * ACT, t, np.minimum(t, hc.g), hc)
    return fwd + bwd + ce + tp
