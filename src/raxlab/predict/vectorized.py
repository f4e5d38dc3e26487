"""Many candidates at once, for the planner: same arithmetic as `api.py`, numpy arrays in.

    from raxlab.predict.vectorized import evaluate_training, candidate_grid
    hc = hw_consts(hw, "bf16")                        # or stack_hardware([...]) + take(...)
    la = candidate_grid(gpus=1024, gpus_per_node=8, global_batch=1024, ...)  # LayoutArrays
    res = evaluate_training(shape, hc, la, gpus=1024, mem_bytes=hw.mem_bytes)
    res["step_time_s"], res["fits"], res["problem"]   # arrays, one entry per candidate

`problem` is a code into `layout.PROBLEMS` (0 = possible); impossible candidates still get
numbers, so mask with `res["ok"]`. Hardware numbers may be arrays aligned with the layouts
(stack them with `hardware.stack_hardware` and index with `hardware.take`).
"""

from __future__ import annotations

import itertools

import numpy as np

from raxlab.predict import priors
from raxlab.predict.generic import CardNums, generic_core
from raxlab.predict.layout import LayoutArrays, layout_problems, make_arrays
from raxlab.predict.training import train_core


def _usable(mem_bytes):
    return np.asarray(mem_bytes) * priors.scalar("memory", "usable_fraction").value


def evaluate_training(model, hc, la: LayoutArrays, *, gpus, mem_bytes, w_bytes: float = 2.0) -> dict:
    """Step time, throughput, MFU, memory and fit for every candidate in `la`.

    `model`: a TransformerShape (full model) or a CardNums (data parallel only)."""
    ws = priors.scalar("memory", "workspace_bytes").value
    if isinstance(model, CardNums):
        out = generic_core(model, la, hc, workspace=ws, w_bytes=w_bytes)
        problem = layout_problems(la, gpus, hc.g, transformer=False)
        flops_per_sample = sum(model.flops.values())
        seq = model.tokens_per_sample or 0
    else:
        out = train_core(model, la, hc, w_bytes=w_bytes, workspace=ws)
        problem = layout_problems(la, gpus, hc.g, heads=model.heads, layers=model.layers,
                                  experts=model.moe.experts if model.moe else None, seq=model.seq)
        flops_per_sample = model.seq * model.model_flops_per_token()
        seq = model.seq
    step = out["step_time_s"]
    samples = la.gb / step
    total = out["memory"]["total"]
    return {"step_time_s": step, "samples_per_s": samples, "tokens_per_s": samples * seq,
            "mfu": samples * flops_per_sample / (la.tp * la.pp * la.cp * la.dp) / hc.peak,
            "memory_bytes": total, "fits": total <= _usable(mem_bytes), "problem": problem,
            "ok": (problem == 0) & (total <= _usable(mem_bytes)), "terms": out["terms"]}


def _divisors(n: int, cap: int | None = None) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0 and (cap is None or d <= cap)]


# Expert and context parallel degrees searched (MoE models / long sequences). EP up to 64:
# DeepSeek-V3 trained at EP 64 (arXiv:2412.19437 §3.2); Megatron-Core's mappings use 2-64. CP from
# 8K tokens ("use CP when sequence length >= 8K", Megatron-LM MoE README tuning guide) up to 32.
EP_DEGREES = (1, 2, 4, 8, 16, 32, 64)
CP_DEGREES = (1, 2, 4, 8, 16, 32)
CP_MIN_SEQ = 8192


def context_options(gpus: int, seq: int | None, transformer: bool = True) -> list[int]:
    """CP degrees to try: 1, and for sequences of CP_MIN_SEQ tokens or more those dividing the GPUs."""
    if not (transformer and seq and seq >= CP_MIN_SEQ):
        return [1]
    return [c for c in CP_DEGREES if gpus % c == 0]


def expert_options(experts: int | None, tp: int) -> list[tuple[int, int]]:
    """(ep, etp) pairs to try: (1, 0) for a dense model (etp 0 = tp); for a MoE model every EP degree
    dividing the experts with expert TP 1 (Megatron-Core MoE parallel folding's advice, "EP8TP1 is
    better than EP4TP2 for 8x7B") and, when TP > 1, expert TP = TP (Megatron-Core's default)."""
    if not experts:
        return [(1, 0)]
    return [(e, t) for e in EP_DEGREES if experts % e == 0 for t in dict.fromkeys((1, tp))]


def candidate_grid(*, gpus: int, gpus_per_node: int, global_batch: int, micro_batches=(1, 2, 4, 8),
                   recompute=(0, 1, 2), zero=(0, 1, 3), vpp=(1,), sp=(1,), attn=1, max_pp: int = 64,
                   transformer: bool = True, experts: int | None = None, seq: int | None = None) -> LayoutArrays:
    """All (tp, pp, cp, ep, etp, dp, micro-batch, recompute, zero, vpp, sp) layouts for `gpus` GPUs
    (EP for MoE models, CP for long sequences: `expert_options`, `context_options`); impossible
    ones are kept and flagged by `evaluate_training`'s `problem` code."""
    rows = []
    tps = _divisors(gpus, gpus_per_node) if transformer else [1]
    for tp, cp in itertools.product(tps, context_options(gpus, seq, transformer)):
        if (gpus // tp) % cp:
            continue
        for pp in (_divisors(gpus // (tp * cp), max_pp) if transformer else [1]):
            dp = gpus // (tp * pp * cp)
            for ep, etp in expert_options(experts, tp):
                rows.extend((tp, pp, dp, *rest, cp, ep, etp)
                            for rest in itertools.product(micro_batches, recompute, zero, vpp, sp))
    a = np.array(rows, dtype=float).reshape(-1, 11)
    return make_arrays(tp=a[:, 0], pp=a[:, 1], dp=a[:, 2], mb=a[:, 3], gb=global_batch, recompute=a[:, 4],
                       zero=a[:, 5], vpp=a[:, 6], sp=a[:, 7], attn=attn, cp=a[:, 8], ep=a[:, 9], etp=a[:, 10])
