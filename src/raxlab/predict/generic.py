"""Training step of any model from its workload card alone (CNNs, MLPs, anything traced).

Without a transformer shape the model is a bag of per-sample FLOPs and bytes per op class
(the card's `flops_by_class` / `bytes_by_class`, forward + backward, plus batch-independent
`_fixed` work per step). Each class is a roofline: max(FLOPs / (peak × eff), bytes /
achievable bandwidth). Convolutions run as implicit GEMMs on the tensor cores, so they take
the matmul efficiency (an assumption, listed in the projection). Only data parallelism is
possible: DDP (gradients bucketed under backward), ZeRO-1/2 and ZeRO-3/FSDP (two weight
all-gathers and one gradient reduce-scatter per micro-batch; `sharded.generic_exposed`).

The card's bytes are a fusion-free upper bound on memory traffic (see workload/card.py), so
element-wise time is pessimistic for models run with fused kernels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from raxlab.predict import memory as mem
from raxlab.predict import sharded
from raxlab.predict.collectives import group_time
from raxlab.predict.training import ADAM_BYTES_FIXED, DDP_BUCKET_BYTES

CLASSES = ("matmul", "attention", "conv", "other")


@dataclass(frozen=True)
class CardNums:
    """The numbers of a card the core needs (per sample unless `_fixed`; training = fwd + bwd)."""

    params: float
    flops: dict  # class -> training FLOPs per sample
    fwd_flops: dict
    bytes: dict  # class -> bytes per sample ('norm' folded into 'other')
    fwd_bytes: dict
    flops_fixed: float
    bytes_fixed: float
    act_per_sample: float
    act_fixed: float
    tokens_per_sample: float | None

    @classmethod
    def from_card(cls, card, act_scale: float = 1.0) -> "CardNums":
        """`act_scale`: activation bytes of the run's dtype ÷ the traced dtype's (bf16 vs fp32: 0.5)."""
        def fold(d):
            out = {c: float(d.get(c, 0)) for c in CLASSES}
            out["other"] += float(d.get("norm", 0))
            return out
        return cls(params=float(card.params), flops=fold(card.flops_by_class), fwd_flops=fold(card.fwd_flops_by_class),
                   bytes=fold(card.bytes_by_class), fwd_bytes=fold(card.fwd_bytes_by_class),
                   flops_fixed=float(card.train_flops_fixed), bytes_fixed=float(sum(card.bytes_fixed_by_class.values())),
                   act_per_sample=card.activation_bytes_per_sample * act_scale,
                   act_fixed=card.activation_bytes_fixed * act_scale,
                   tokens_per_sample=card.tokens_per_sample)


def _class_time(flops, nbytes, cls, hc):
    eff = {"matmul": hc.eff_mm, "conv": hc.eff_mm, "attention": hc.eff_mm, "other": None}[cls]
    t_mem = nbytes / hc.mem_bw
    return t_mem if eff is None else np.maximum(flops / (hc.peak * eff), t_mem)


def generic_core(cn: CardNums, la, hc, workspace: float = 2.5e9, w_bytes: float = 2.0) -> dict:
    """Per-step terms (seconds) and memory for every data-parallel candidate."""
    m = la.gb / (la.mb * la.dp)
    by_class = {c: m * _class_time(la.mb * cn.flops[c], la.mb * cn.bytes[c], c, hc) for c in CLASSES}
    fwd = sum(_class_time(la.mb * cn.fwd_flops[c], la.mb * cn.fwd_bytes[c], c, hc) for c in CLASSES)
    t_mb = sum(by_class.values()) / m
    terms = {k: v for k, v in by_class.items()}
    terms["fixed_work"] = np.maximum(cn.flops_fixed / (hc.peak * hc.eff_mm), cn.bytes_fixed / hc.mem_bw) + 0.0 * m
    terms["recompute"] = np.where(la.recompute >= 2, m * fwd, 0.0)
    k = np.clip(hc.g, 1.0, la.dp)
    grad = cn.params * la.grad_bytes
    t_ar = group_time("all_reduce", grad, la.dp, k, hc)
    last = group_time("all_reduce", np.minimum(grad, DDP_BUCKET_BYTES), la.dp, k, hc)
    overlapped = np.minimum(np.maximum(t_ar - (t_mb - fwd), 0.0) + last, t_ar)
    terms["dp_comm"] = np.where(la.zero >= 3, 0.0, np.where(la.overlap > 0, overlapped, t_ar))
    terms["fsdp_comm"] = np.where(la.zero >= 3, sharded.generic_exposed(cn.params, la, hc, fwd, t_mb - fwd, m), 0.0)
    shard = np.where(la.zero >= 1, la.dp, 1.0)
    terms["optimizer"] = cn.params / shard * (ADAM_BYTES_FIXED + la.grad_bytes) / hc.mem_bw
    terms["step_overhead"] = hc.step_overhead + 0.0 * m
    w, g, o = mem.model_state_bytes(cn.params, la.dp, la.zero, w_bytes, la.grad_bytes)
    act = np.where(la.recompute >= 2, 0.1, 1.0) * (la.mb * cn.act_per_sample + cn.act_fixed)
    memory = {"weights": w, "gradients": g, "optimizer": o, "activations": act,
              "fsdp_gathered": np.where(la.zero >= 3, cn.params * w_bytes, 0.0), "workspace": workspace + 0.0 * w}
    memory["total"] = sum(memory.values())
    return {"terms": terms, "step_time_s": sum(terms.values()), "memory": memory, "microbatches": m}
